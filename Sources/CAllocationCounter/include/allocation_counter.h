#ifndef SML_ALLOCATION_COUNTER_H
#define SML_ALLOCATION_COUNTER_H

/// Starts counting the heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign) made by
/// the calling thread.
void sml_allocations_begin(void);

/// Stops counting on the calling thread and returns how many allocations it made since `sml_allocations_begin`.
long sml_allocations_end(void);

#endif
