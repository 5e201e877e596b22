/* wrap_malloc.c: the C allocation functions for `ld --wrap`. Each entry point calls the
 * real function and one core hook, directly: nothing else belongs here. */
#include <stddef.h>

#include "../core/tracer.h"

#define ENTRY(name) __wrap_##name
#define REAL(name) __real_##name
#include "../shared/c_allocators.h"

int __real_posix_memalign(void **out, size_t alignment, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);

__attribute__((visibility("default"))) int __wrap_posix_memalign(void **out, size_t alignment,
                                                                 size_t size)
{
    int error = __real_posix_memalign(out, alignment, size);
    if (error == 0)
        malloc_trace_on_alloc(*out, size, ENTRY_POSIX_MEMALIGN);
    return error;
}

__attribute__((visibility("default"))) void *__wrap_aligned_alloc(size_t alignment, size_t size)
{
    void *ptr = __real_aligned_alloc(alignment, size);
    malloc_trace_on_alloc(ptr, size, ENTRY_ALIGNED_ALLOC);
    return ptr;
}
