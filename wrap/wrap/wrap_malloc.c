/* wrap_malloc.c: the C allocation functions for `ld --wrap`. Each entry point calls the
 * real function and one core hook, directly: nothing else belongs here. */
#include <stdbool.h>
#include <stddef.h>

#include "../core/tracer.h"

#define ENTRY(name) __wrap_##name
#define REAL(name) __real_##name
#include "../shared/c_allocators.h"

void *__real_reallocarray(void *old, size_t count, size_t size);
int __real_posix_memalign(void **out, size_t alignment, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);

__attribute__((visibility("default"))) void *__wrap_reallocarray(void *old, size_t count,
                                                                  size_t size)
{
    size_t total;
    bool overflow = __builtin_mul_overflow(count, size, &total);
    struct malloc_trace_move move;
    malloc_trace_on_move_begin(old, &move);
    void *ptr = __real_reallocarray(old, count, size);
    malloc_trace_on_move_end(&move, old, ptr != NULL || (!overflow && total == 0), ptr, total,
                             ENTRY_REALLOCARRAY);
    return ptr;
}

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
