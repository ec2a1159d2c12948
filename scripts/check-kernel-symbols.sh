#!/usr/bin/env bash
# The x86-64-v3 copy of the batch kernels must never hand AVX2 code to the baseline copy:
#  - release: the v3 objects must not define a weak symbol that another module could also define (the linker keeps one
#    definition for the whole binary, so a specialisation emitted by both copies under the same mangled name could
#    make baseline code run AVX2 instructions on a CPU without them). Symbols of the module itself (their mangled
#    names contain SoftmaxKernelsV3) cannot collide. Neither can data that holds the same bytes in every copy:
#    `symbolic` mangled names, `__swift_reflection_version`, and the `got.` cells Swift emits for a reference to
#    another module's descriptor (8 bytes of .data.rel.ro: the address of, say, the standard library's SIMD protocol
#    descriptor, which the generic kernels' requirement signatures name). The script checks that those are data.
#  - debug: the v3 copy is compiled without -target-cpu (Package.swift), so its objects must hold no AVX (VEX)
#    instruction at all.
# Builds the release configuration first (a no-op when it is up to date), so the objects checked are current.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(uname -m)" = x86_64 ] || { echo "not x86-64: there is no v3 copy to check"; exit 0; }
swift build -c release >/dev/null
shopt -s nullglob
release=(.build/release/SoftmaxKernelsV3.build/*.o)
[ "${#release[@]}" -gt 0 ] || { echo "no release objects for SoftmaxKernelsV3" >&2; exit 1; }
symbols=$(nm --defined-only "${release[@]}")
shared=$(awk '$2 ~ /^[WwVv]$/ { $1 = ""; $2 = ""; print substr($0, 3) }' <<<"$symbols" |
  { grep -v -e SoftmaxKernelsV3 -e '^__swift_reflection_version$' -e '^symbolic ' -e '^got\.' || true; } | sort -u)
# Every weak `got.` cell must be a data object (flags `w O`), never in a code section.
gotCode=$(objdump -t "${release[@]}" | awk '/ got\./ && !($2 == "w" && $3 == "O" && $4 ~ /^\.(data|rodata)/)' || true)
if [ -n "$gotCode" ]; then
  echo "the v3 kernel objects define got. symbols that are not data:" >&2
  echo "$gotCode" >&2
  exit 1
fi
if [ -n "$shared" ]; then
  echo "the v3 kernel objects define weak symbols that another module could also define:" >&2
  echo "$shared" >&2
  echo "make the code that emits them inline (see Sources/SoftmaxKernels/BatchKernels.swift)" >&2
  exit 1
fi
echo "release: the v3 kernel objects define no weak symbols shared with other modules"
debug=(.build/debug/SoftmaxKernelsV3.build/*.o)
if [ "${#debug[@]}" -gt 0 ]; then
  vex=$(objdump -d "${debug[@]}" | grep -c -E '%ymm|vfmadd|vcvtph2ps|vcvtps2ph' || true)
  if [ "$vex" != 0 ]; then
    echo "the debug v3 kernel objects contain $vex AVX instructions (expected none)" >&2
    exit 1
  fi
  echo "debug: the v3 kernel objects contain no AVX instructions"
fi
