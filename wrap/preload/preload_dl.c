/* preload_dl.c: dlclose for LD_PRELOAD, so that frames in a library are named before it is
 * unloaded. The real dlclose is the next definition (next_function.h): glibc's own entry
 * (__libc_dlclose) is private. */
#define _GNU_SOURCE
#include <stdatomic.h>

#include "../core/tracer.h"
#include "next_function.h"

typedef int dlclose_fn(void *handle);

static _Atomic(void *) real_dlclose;

__attribute__((constructor)) static dlclose_fn *find_real_dlclose(void)
{
    return (dlclose_fn *)next_function(&real_dlclose, "dlclose");
}

__attribute__((visibility("default"))) int dlclose(void *handle)
{
    dlclose_fn *real = find_real_dlclose();
    malloc_trace_on_dlclose_begin();
    int result = real(handle);
    malloc_trace_on_dlclose_end();
    return result;
}
