/* preload_malloc.c: the C allocation functions for LD_PRELOAD. glibc exports its allocator
 * as __libc_malloc and friends, so no dlsym (which itself calls calloc) is needed to reach
 * the real functions. Each entry point calls them and one core hook, directly. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/tracer.h"

#define INTERPOSE __attribute__((visibility("default")))

#define ENTRY(name) name
#define REAL(name) __libc_##name
#include "../shared/c_allocators.h"

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


