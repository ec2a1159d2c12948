#ifndef CCPUID_H
#define CCPUID_H

/// 1 when the CPU and the operating system support the x86-64-v3 feature set that the SoftmaxKernelsV3 module is
/// compiled for (AVX, AVX2, FMA, F16C, BMI1, BMI2, LZCNT, MOVBE and the x86-64-v2 base: SSE3, SSSE3, SSE4.1, SSE4.2,
/// POPCNT, CMPXCHG16B, LAHF/SAHF), with the XMM and YMM register state enabled by the OS (OSXSAVE, XCR0 bits 1 and 2);
/// 0 otherwise, and always 0 on other architectures. Read with CPUID and XGETBV, not `__builtin_cpu_supports`.
int ccpuid_x86_64_v3_supported(void);

/// The value of the environment variable SOFTMAX_LAB_ISA, or NULL when it is not set.
const char *ccpuid_isa_override(void);

#endif
