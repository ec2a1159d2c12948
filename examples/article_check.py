#!/usr/bin/env python3
"""The index-notation article's batch check, reproduced without PyTorch (and with it when it is installed).

Draws the article's batch with a fixed seed: N = 128 rows of C = 256 logits ~ U[0, 1), random targets, upstream
gradients dl/dc ~ U[0, 1); runs `softmax-lab eval` once on it (--reduction none --upstream-file); and compares the
gradient with numpy's implementation of the article's formula  dl/dx_bn = (dl/dc_b) (s_bn - delta_{T_b n}),  and,
when `torch` can be imported, with torch.nn.CrossEntropyLoss(reduction='none') and autograd, as the article does.

    python3 examples/article_check.py                 # runs `swift run softmax-lab`
    python3 examples/article_check.py --binary .build/debug/softmax-lab

Exit status 0 when every comparison agrees; prints the largest differences.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", help="the softmax-lab executable (default: swift run softmax-lab)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    n, c = 128, 256
    x = rng.random((n, c))  # float64, as the article's torch.rand(..., dtype=torch.float64) would be
    targets = rng.integers(0, c, size=n)
    upstream = rng.random(n)

    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "x.npy"), x)
        np.save(os.path.join(tmp, "t.npy"), targets.astype(np.int64))
        np.save(os.path.join(tmp, "g.npy"), upstream)
        command = [args.binary] if args.binary else ["swift", "run", "--quiet", "softmax-lab"]
        command += [
            "eval", "--logits-file", os.path.join(tmp, "x.npy"), "--targets-file", os.path.join(tmp, "t.npy"),
            "--upstream-file", os.path.join(tmp, "g.npy"), "--reduction", "none", "--format", "json",
        ]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    lab = np.array(report["gradient"], dtype=np.float64)
    lab_loss = np.array(report["row_loss"], dtype=np.float64)

    # numpy: the article's formula with a max-subtracted softmax.
    z = x - x.max(axis=1, keepdims=True)
    s = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    one_hot = np.zeros((n, c))
    one_hot[np.arange(n), targets] = 1
    numpy_gradient = upstream[:, None] * (s - one_hot)
    numpy_loss = -np.log(s[np.arange(n), targets])

    ok = True

    def compare(name, a, b, tolerance):
        nonlocal ok
        worst = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))
        agrees = worst <= tolerance
        ok = ok and agrees
        print(f"{name}: largest relative difference {worst:.3g} ({'agrees' if agrees else 'DIFFERS'}, "
              f"tolerance {tolerance:g})")

    # numpy's own sums round in float64: a few ulps apart from the lab's correctly rounded values.
    compare("gradient vs numpy", lab, numpy_gradient, 1e-12)
    compare("row loss vs numpy", lab_loss, numpy_loss, 1e-12)

    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch is not installed: the PyTorch comparison is skipped")
    else:
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        loss = torch.nn.CrossEntropyLoss(reduction="none")(xt, torch.tensor(targets))
        loss.backward(torch.tensor(upstream, dtype=torch.float64))
        compare("gradient vs torch autograd", lab, xt.grad.numpy(), 1e-12)
        compare("row loss vs torch", lab_loss, loss.detach().numpy(), 1e-12)

    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
