/* wrap_malloc.c: the C allocation functions for `ld --wrap`. Each entry point calls the
 * real function and one core hook, directly: nothing else belongs here. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "../core/tracer.h"

#define WRAP __attribute__((visibility("default")))

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *old, size_t size);
void *__real_reallocarray(void *old, size_t count, size_t size);
void __real_free(void *ptr);
int __real_posix_memalign(void **out, size_t alignment, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);
void *__real_memalign(size_t alignment, size_t size);
void *__real_valloc(size_t size);
void *__real_pvalloc(size_t size);

WRAP void *__wrap_malloc(size_t size)
{
    void *ptr = __real_malloc(size);
    malloc_trace_on_alloc(ptr, size, ENTRY_MALLOC);
    return ptr;
}

WRAP void *__wrap_calloc(size_t count, size_t size)
{
    void *ptr = __real_calloc(count, size);
    malloc_trace_on_alloc(ptr, count * size, ENTRY_CALLOC); /* no overflow when ptr != NULL */
    return ptr;
}

WRAP void *__wrap_realloc(void *old, size_t size)
{
    struct malloc_trace_move move;
    malloc_trace_on_move_begin(old, &move);
    void *ptr = __real_realloc(old, size);
    /* glibc's realloc(p, 0) frees p and returns NULL. */
    malloc_trace_on_move_end(&move, old, ptr != NULL || size == 0, ptr, size, ENTRY_REALLOC);
    return ptr;
}

WRAP void *__wrap_reallocarray(void *old, size_t count, size_t size)
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

WRAP void __wrap_free(void *ptr)
{
    malloc_trace_on_free(ptr, ENTRY_FREE);
    __real_free(ptr);
}

WRAP int __wrap_posix_memalign(void **out, size_t alignment, size_t size)
{
    int error = __real_posix_memalign(out, alignment, size);
    if (error == 0)
        malloc_trace_on_alloc(*out, size, ENTRY_POSIX_MEMALIGN);
    return error;
}

WRAP void *__wrap_aligned_alloc(size_t alignment, size_t size)
{
    void *ptr = __real_aligned_alloc(alignment, size);
    malloc_trace_on_alloc(ptr, size, ENTRY_ALIGNED_ALLOC);
    return ptr;
}

WRAP void *__wrap_memalign(size_t alignment, size_t size)
{
    void *ptr = __real_memalign(alignment, size);
    malloc_trace_on_alloc(ptr, size, ENTRY_MEMALIGN);
    return ptr;
}

WRAP void *__wrap_valloc(size_t size)
{
    void *ptr = __real_valloc(size);
    malloc_trace_on_alloc(ptr, size, ENTRY_VALLOC);
    return ptr;
}

WRAP void *__wrap_pvalloc(size_t size)
{
    void *ptr = __real_pvalloc(size);
    malloc_trace_on_alloc(ptr, size, ENTRY_PVALLOC);
    return ptr;
}
