/* preload_malloc.c: the C allocation functions for LD_PRELOAD. glibc exports its allocator
 * as __libc_malloc and friends, so no dlsym (which itself calls calloc) is needed to reach
 * the real functions. Each entry point calls them and one core hook, directly. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
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



/* The malloc_usable_size of the allocator whose __libc_malloc the functions above call:
 * glibc's, or tcmalloc's, which defines __libc_malloc too. A program linked with another
 * allocator that defines only malloc_usable_size (jemalloc) would otherwise have it read
 * glibc's blocks as its own (a crash). Looked up as the library starts, or at the first call
 * before that (another library's constructor). */
typedef size_t usable_size_fn(void *ptr);
static _Atomic(usable_size_fn *) real_usable_size;

__attribute__((constructor)) static usable_size_fn *find_real_usable_size(void)
{
    usable_size_fn *found = NULL;
    Dl_info allocator;
    malloc_trace_guard += MALLOC_TRACE_GUARD_INTERNAL; /* dladdr may allocate */
    int known = dladdr((void *)__libc_malloc, &allocator);
    malloc_trace_guard -= MALLOC_TRACE_GUARD_INTERNAL;
    if (known != 0) /* the library's own, or its libc's */
        found = (usable_size_fn *)malloc_trace_loaded_symbol(allocator.dli_fname,
                                                             "malloc_usable_size");
    atomic_store_explicit(&real_usable_size, found, memory_order_release);
    return found;
}

INTERPOSE size_t malloc_usable_size(void *ptr)
{
    usable_size_fn *real = atomic_load_explicit(&real_usable_size, memory_order_acquire);
    if (real == NULL)
        real = find_real_usable_size();
    return real != NULL ? real(ptr) : 0;
}
