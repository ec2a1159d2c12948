#!/usr/bin/env python3
"""numpy / scipy softmax + cross-entropy timings at the shapes `softmax-lab bench` uses, in ns per element.

Usage: python3 bench/numpy_bench.py [--quick]
Measures, single process, data in cache (numpy may use its SIMD exp; no threads are involved for these ops):
  * numpy fused: stable softmax + CE gradient g*(s - onehot) and the loss, the way one writes it in numpy;
  * scipy.special.softmax(x, axis=1) alone.
Median of repeated runs (min, max), float32 and float64.
"""
import sys
import time

import numpy as np
import scipy
import scipy.special

SHAPES = [(128, 256), (1, 131072), (64, 32768)]


def numpy_fused(x, targets, g):
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(axis=1, keepdims=True)
    grad = e * (g[:, None] / s)
    rows = np.arange(x.shape[0])
    grad[rows, targets] -= g
    loss = (m[:, 0] - x[rows, targets]) + np.log(s[:, 0])
    return loss, grad


def timeit(f, budget):
    f()
    times = []
    start = time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - start < budget and len(times) < 2000):
        t0 = time.perf_counter_ns()
        f()
        times.append(time.perf_counter_ns() - t0)
    times.sort()
    return times[len(times) // 2], times[0], times[-1]


def main():
    quick = "--quick" in sys.argv
    budget = 0.05 if quick else 0.3
    rng = np.random.default_rng(42)
    print(f"numpy {np.__version__}, scipy {scipy.__version__}")
    print(f"{'impl':<22}{'precision':<10}{'shape':>10}{'ns/elem':>10}  (min - max)")
    for n, c in SHAPES:
        for dtype in (np.float32, np.float64):
            x = (rng.standard_normal((n, c)) * 3).astype(dtype)
            targets = rng.integers(0, c, n)
            g = (0.5 + rng.random(n)).astype(dtype)
            for name, f in (
                ("numpy softmax+CE grad", lambda: numpy_fused(x, targets, g)),
                ("scipy.special.softmax", lambda: scipy.special.softmax(x, axis=1)),
            ):
                med, lo, hi = timeit(f, budget)
                k = n * c
                prec = "float32" if dtype == np.float32 else "float64"
                print(f"{name:<22}{prec:<10}{f'{n}x{c}':>10}{med / k:>10.3f}  ({lo / k:.3f} - {hi / k:.3f})")


if __name__ == "__main__":
    main()
