// Counts heap allocations for softmax-lab-allocations, which checks that the explorer's keystrokes allocate nothing.
//
// glibc lets a program replace malloc by defining it (the GNU C Library manual, "Replacing malloc"): the dynamic
// linker binds every library's calls (the Swift runtime's among them) to this executable's definitions. Each one
// bumps a per-thread counter while counting is on and hands the call to glibc's own allocator (`__libc_malloc` and
// friends), so memory from either side can be freed by either, and other threads are not counted.
#include "allocation_counter.h"

#include <errno.h>
#include <stddef.h>

#if defined(__linux__) && defined(__GLIBC__)

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static __thread int counting;
static __thread long count;

static inline void counted(void) {
  if (counting) count += 1;
}

void sml_allocations_begin(void) {
  count = 0;
  counting = 1;
}

long sml_allocations_end(void) {
  counting = 0;
  return count;
}

void *malloc(size_t size) {
  counted();
  return __libc_malloc(size);
}

void *calloc(size_t n, size_t size) {
  counted();
  return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size) {
  counted();
  return __libc_realloc(p, size);
}

void free(void *p) { __libc_free(p); }

int posix_memalign(void **result, size_t alignment, size_t size) {
  counted();
  // POSIX: a power of two that is a multiple of sizeof(void *).
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment % sizeof(void *) != 0) return EINVAL;
  void *p = __libc_memalign(alignment, size);
  if (p == NULL) return ENOMEM;
  *result = p;
  return 0;
}

void *aligned_alloc(size_t alignment, size_t size) {
  counted();
  return __libc_memalign(alignment, size);
}

void *memalign(size_t alignment, size_t size) {
  counted();
  return __libc_memalign(alignment, size);
}

#else

// Elsewhere nothing is replaced: the count is -1, and the benchmark says it cannot count.
void sml_allocations_begin(void) {}
long sml_allocations_end(void) { return -1; }

#endif
