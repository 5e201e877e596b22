/* preload_dl.c: dlclose for LD_PRELOAD, so that frames in a library are named before it is
 * unloaded. The real dlclose is found with dlsym(RTLD_NEXT) at the first call: glibc's own
 * entry (__libc_dlclose) is private. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>

#include "../core/tracer.h"

typedef int dlclose_fn(void *handle);

static _Atomic(dlclose_fn *) real_dlclose;

__attribute__((visibility("default"))) int dlclose(void *handle)
{
    dlclose_fn *real = atomic_load_explicit(&real_dlclose, memory_order_acquire);
    if (real == NULL) {
        real = (dlclose_fn *)dlsym(RTLD_NEXT, "dlclose");
        atomic_store_explicit(&real_dlclose, real, memory_order_release);
    }
    malloc_trace_on_dlclose_begin();
    int result = real(handle);
    malloc_trace_on_dlclose_end();
    return result;
}
