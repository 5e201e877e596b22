/* preload_malloc.c: the C allocation functions for LD_PRELOAD. glibc exports its allocator
 * as __libc_malloc and friends, so no dlsym (which itself calls calloc) is needed to reach
 * the real functions. Each entry point calls them and one core hook, directly. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/tracer.h"

#define INTERPOSE __attribute__((visibility("default")))

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t count, size_t size);
void *__libc_realloc(void *old, size_t size);
void __libc_free(void *ptr);
void *__libc_memalign(size_t alignment, size_t size);
void *__libc_valloc(size_t size);
void *__libc_pvalloc(size_t size);

INTERPOSE void *malloc(size_t size)
{
    void *ptr = __libc_malloc(size);
    malloc_trace_on_alloc(ptr, size, ENTRY_MALLOC);
    return ptr;
}

INTERPOSE void *calloc(size_t count, size_t size)
{
    void *ptr = __libc_calloc(count, size);
    malloc_trace_on_alloc(ptr, count * size, ENTRY_CALLOC); /* no overflow when ptr != NULL */
    return ptr;
}

INTERPOSE void *realloc(void *old, size_t size)
{
    struct malloc_trace_move move;
    malloc_trace_on_move_begin(old, &move);
    void *ptr = __libc_realloc(old, size);
    /* glibc's realloc(p, 0) frees p and returns NULL. */
    malloc_trace_on_move_end(&move, old, ptr != NULL || size == 0, ptr, size, ENTRY_REALLOC);
    return ptr;
}

INTERPOSE void *reallocarray(void *old, size_t count, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM; /* as glibc's reallocarray */
        return NULL;
    }
    struct malloc_trace_move move;
    malloc_trace_on_move_begin(old, &move);
    void *ptr = __libc_realloc(old, total);
    malloc_trace_on_move_end(&move, old, ptr != NULL || total == 0, ptr, total,
                             ENTRY_REALLOCARRAY);
    return ptr;
}

INTERPOSE void free(void *ptr)
{
    malloc_trace_on_free(ptr, ENTRY_FREE);
    __libc_free(ptr);
}

static bool is_power_of_two(size_t value)
{
    return value != 0 && (value & (value - 1)) == 0;
}

INTERPOSE int posix_memalign(void **out, size_t alignment, size_t size)
{
    /* glibc 2.36's checks, in its order. */
    if (alignment % sizeof(void *) != 0 || !is_power_of_two(alignment / sizeof(void *)))
        return EINVAL;
    void *ptr = __libc_memalign(alignment, size);
    if (ptr == NULL)
        return ENOMEM;
    *out = ptr;
    malloc_trace_on_alloc(ptr, size, ENTRY_POSIX_MEMALIGN);
    return 0;
}

INTERPOSE void *aligned_alloc(size_t alignment, size_t size)
{
    /* glibc before 2.38 makes aligned_alloc an alias of memalign (any alignment is rounded
     * up to a power of two); glibc 2.38 rejects the others with EINVAL. This is Debian 12's. */
    void *ptr = __libc_memalign(alignment, size);
    malloc_trace_on_alloc(ptr, size, ENTRY_ALIGNED_ALLOC);
    return ptr;
}

INTERPOSE void *memalign(size_t alignment, size_t size)
{
    void *ptr = __libc_memalign(alignment, size);
    malloc_trace_on_alloc(ptr, size, ENTRY_MEMALIGN);
    return ptr;
}

INTERPOSE void *valloc(size_t size)
{
    void *ptr = __libc_valloc(size);
    malloc_trace_on_alloc(ptr, size, ENTRY_VALLOC);
    return ptr;
}

INTERPOSE void *pvalloc(size_t size)
{
    void *ptr = __libc_pvalloc(size);
    malloc_trace_on_alloc(ptr, size, ENTRY_PVALLOC);
    return ptr;
}
