// Counts heap allocations for the tests that check the explorer's keystroke path allocates nothing.
//
// glibc lets a program replace malloc by defining it (the GNU C Library manual, "Replacing malloc"): the dynamic
// linker binds every library's calls (the Swift runtime's among them) to the test executable's definitions. Each one
// bumps a per-thread counter while counting is on and hands the call to glibc's own allocator (`__libc_malloc` and
// friends), so memory from either side can be freed by either, and tests running on other threads are not counted.
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

// Elsewhere nothing is replaced: the count is -1, and the tests that need it say so and skip.
void sml_allocations_begin(void) {}
long sml_allocations_end(void) { return -1; }

#endif
