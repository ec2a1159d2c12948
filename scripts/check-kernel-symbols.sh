#!/usr/bin/env bash
# The x86-64-v3 copy of the batch kernels must not define a weak code symbol that the baseline copy (or anything
# else) could also define: the linker keeps one definition for the whole binary, so a specialisation emitted by both
# copies under the same mangled name could make baseline code run AVX2 instructions on a CPU without them.
# Symbols of the module itself (their mangled names contain SoftmaxKernelsV3) cannot collide. Run after
# `swift build -c release` (this script builds it when the objects are missing).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(uname -m)" = x86_64 ] || { echo "not x86-64: there is no v3 copy to check"; exit 0; }
dir=.build/release/SoftmaxKernelsV3.build
ls "$dir"/*.o >/dev/null 2>&1 || swift build -c release
shared=$(nm --defined-only "$dir"/*.o | awk '$2 ~ /^[WwVv]$/ { $1 = ""; $2 = ""; print substr($0, 3) }' |
  grep -v -e SoftmaxKernelsV3 -e '^__swift_reflection_version$' -e '^symbolic ' | sort -u || true)
if [ -n "$shared" ]; then
  echo "the v3 kernel objects define weak symbols that another module could also define:" >&2
  echo "$shared" >&2
  echo "make the code that emits them inline (see Sources/SoftmaxKernels/BatchKernels.swift)" >&2
  exit 1
fi
echo "v3 kernel objects: no weak symbols shared with other modules"
