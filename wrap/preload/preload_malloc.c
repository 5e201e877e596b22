/* preload_malloc.c: the C allocation functions for LD_PRELOAD. Each entry point calls the
 * allocator behind it (next_allocator.h) and one core hook, directly. */
#include <stddef.h>

#include "../core/tracer.h"
#include "next_allocator.h"

#define ENTRY(name) name
#define REAL(name) next_##name
#include "../shared/c_allocators.h"

/* No hook: it allocates nothing. The allocator's own, on the allocator's blocks. */
__attribute__((visibility("default"))) size_t malloc_usable_size(void *ptr)
{
    return next_usable_size(ptr);
}
