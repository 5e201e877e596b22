/* c_allocators.h: the C allocation entry points that both front-ends define the same way,
 * each calling the real function and one core hook, directly. A front-end includes this
 * after defining ENTRY(name) (the name it defines: __wrap_malloc, or malloc itself) and
 * REAL(name) (what it calls: __real_malloc, or next_malloc of next_allocator.h), and
 * declaring the real functions. */
#ifndef MALLOC_TRACE_C_ALLOCATORS_H
#define MALLOC_TRACE_C_ALLOCATORS_H

#include <errno.h>
#include <stddef.h>

#include "../core/tracer.h"

__attribute__((visibility("default"))) void *ENTRY(malloc)(size_t size)
{
    void *ptr;
    MALLOC_TRACE_REAL_CALL(ptr, REAL(malloc)(size));
    malloc_trace_on_alloc(ptr, size, ENTRY_MALLOC);
    return ptr;
}

__attribute__((visibility("default"))) void *ENTRY(calloc)(size_t count, size_t size)
{
    void *ptr;
    MALLOC_TRACE_REAL_CALL(ptr, REAL(calloc)(count, size));
    malloc_trace_on_alloc(ptr, count * size, ENTRY_CALLOC); /* no overflow when ptr != NULL */
    return ptr;
}

__attribute__((visibility("default"))) void *ENTRY(realloc)(void *old, size_t size)
{
    struct malloc_trace_move move;
    malloc_trace_on_move_begin(old, &move);
    void *ptr;
    MALLOC_TRACE_REAL_CALL(ptr, REAL(realloc)(old, size));
    /* glibc's realloc(p, 0) frees p and returns NULL. */
    malloc_trace_on_move_end(&move, old, ptr != NULL || size == 0, ptr, size, ENTRY_REALLOC);
    return ptr;
}

/* glibc's own reallocarray, whose call to realloc a static link wraps too: the inner call,
 * inside this one's hooks, found the block taken out and wrote it as an orphan free. */
__attribute__((visibility("default"))) void *ENTRY(reallocarray)(void *old, size_t count,
                                                                 size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM; /* as glibc's reallocarray */
        return NULL;
    }
    struct malloc_trace_move move;
    malloc_trace_on_move_begin(old, &move);
    void *ptr;
    MALLOC_TRACE_REAL_CALL(ptr, REAL(realloc)(old, total));
    malloc_trace_on_move_end(&move, old, ptr != NULL || total == 0, ptr, total,
                             ENTRY_REALLOCARRAY);
    return ptr;
}

__attribute__((visibility("default"))) void ENTRY(free)(void *ptr)
{
    malloc_trace_on_free(ptr, ENTRY_FREE, REAL(free));
    __asm__ volatile("" ::: "memory"); /* no tail call: an orphan free's stack counts this frame */
}

__attribute__((visibility("default"))) void *ENTRY(memalign)(size_t alignment, size_t size)
{
    void *ptr;
    MALLOC_TRACE_REAL_CALL(ptr, REAL(memalign)(alignment, size));
    malloc_trace_on_alloc(ptr, size, ENTRY_MEMALIGN);
    return ptr;
}

__attribute__((visibility("default"))) void *ENTRY(valloc)(size_t size)
{
    void *ptr;
    MALLOC_TRACE_REAL_CALL(ptr, REAL(valloc)(size));
    malloc_trace_on_alloc(ptr, size, ENTRY_VALLOC);
    return ptr;
}

__attribute__((visibility("default"))) void *ENTRY(pvalloc)(size_t size)
{
    void *ptr;
    MALLOC_TRACE_REAL_CALL(ptr, REAL(pvalloc)(size));
    malloc_trace_on_alloc(ptr, size, ENTRY_PVALLOC);
    return ptr;
}

__attribute__((visibility("default"))) int ENTRY(posix_memalign)(void **out, size_t alignment,
                                                                 size_t size)
{
    int error;
    MALLOC_TRACE_REAL_CALL(error, REAL(posix_memalign)(out, alignment, size));
    if (error == 0)
        malloc_trace_on_alloc(*out, size, ENTRY_POSIX_MEMALIGN);
    return error;
}

__attribute__((visibility("default"))) void *ENTRY(aligned_alloc)(size_t alignment, size_t size)
{
    void *ptr;
    MALLOC_TRACE_REAL_CALL(ptr, REAL(aligned_alloc)(alignment, size));
    malloc_trace_on_alloc(ptr, size, ENTRY_ALIGNED_ALLOC);
    return ptr;
}

#endif
