/* next_function.c: see next_function.h. */
#define _GNU_SOURCE
#include "next_function.h"

#include <dlfcn.h>
#include <stddef.h>

void *next_function(_Atomic(void *) *cached, const char *name)
{
    void *found = atomic_load_explicit(cached, memory_order_acquire);
    if (found == NULL) {
        found = dlsym(RTLD_NEXT, name);
        atomic_store_explicit(cached, found, memory_order_release);
    }
    return found;
}
