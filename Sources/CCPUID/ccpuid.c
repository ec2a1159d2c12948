#include "ccpuid.h"

#include <stdlib.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#include <stdint.h>

/// XCR0 (the OS-enabled register state), read with XGETBV. Only valid when CPUID reports OSXSAVE.
static uint64_t read_xcr0(void) {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((uint64_t)edx << 32) | eax;
}

int ccpuid_x86_64_v3_supported(void) {
  unsigned int eax, ebx, ecx, edx;
  if (__get_cpuid_max(0, 0) < 7) return 0;

  __cpuid(1, eax, ebx, ecx, edx);
  const unsigned int leaf1_ecx = (1u << 0)     // SSE3
                                 | (1u << 9)   // SSSE3
                                 | (1u << 12)  // FMA
                                 | (1u << 13)  // CMPXCHG16B
                                 | (1u << 19)  // SSE4.1
                                 | (1u << 20)  // SSE4.2
                                 | (1u << 22)  // MOVBE
                                 | (1u << 23)  // POPCNT
                                 | (1u << 27)  // OSXSAVE: XGETBV is usable
                                 | (1u << 28)  // AVX
                                 | (1u << 29); // F16C
  if ((ecx & leaf1_ecx) != leaf1_ecx) return 0;

  // The OS must save and restore the XMM (bit 1) and YMM (bit 2) state, or AVX instructions fault.
  if ((read_xcr0() & 0x6) != 0x6) return 0;

  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const unsigned int leaf7_ebx = (1u << 3)    // BMI1
                                 | (1u << 5)  // AVX2
                                 | (1u << 8); // BMI2
  if ((ebx & leaf7_ebx) != leaf7_ebx) return 0;

  if (__get_cpuid_max(0x80000000, 0) < 0x80000001) return 0;
  __cpuid(0x80000001, eax, ebx, ecx, edx);
  const unsigned int ext_ecx = (1u << 0)    // LAHF/SAHF in 64-bit mode
                               | (1u << 5); // LZCNT (ABM)
  if ((ecx & ext_ecx) != ext_ecx) return 0;
  return 1;
}

#else

int ccpuid_x86_64_v3_supported(void) { return 0; }

#endif

const char *ccpuid_isa_override(void) { return getenv("SOFTMAX_LAB_ISA"); }
