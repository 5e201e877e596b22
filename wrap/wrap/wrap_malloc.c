/* wrap_malloc.c: the C allocation functions for `ld --wrap`. Each entry point calls the
 * real function and one core hook, directly: nothing else belongs here. */
#include <stddef.h>

#include "../core/tracer.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *old, size_t size);
void __real_free(void *ptr);
void *__real_memalign(size_t alignment, size_t size);
void *__real_valloc(size_t size);
void *__real_pvalloc(size_t size);
int __real_posix_memalign(void **out, size_t alignment, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);

#define ENTRY(name) __wrap_##name
#define REAL(name) __real_##name
#include "../shared/c_allocators.h"
