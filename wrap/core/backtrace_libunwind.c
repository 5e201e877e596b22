/* backtrace_libunwind.c: libunwind's fast local unwinder with its cache (per thread where the
 * build has it; Debian 12's libunwind 1.6 keeps one global cache behind a mutex instead).
 * Built into the preload library, and into the archive's static-link member, where every
 * libunwind symbol is made local so that its _Unwind_* cannot collide with libgcc_eh's. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <pthread.h>

#include "backtrace.h"

void malloc_trace_libunwind_init(void)
{
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
}

/* The first frame unw_backtrace reports is this function's own. */
__attribute__((noinline)) int malloc_trace_libunwind_backtrace(void **frames, int max)
{
    int count = unw_backtrace(frames, max);
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame must stay on the stack */
    return count;
}

/* libunwind refers to these weakly; in a static link nothing else pulls them out of libc.a,
 * and unw_backtrace would then call address 0 (see TRAPS.md). These strong references do. */
__attribute__((used)) static void *const libunwind_needs[] = {
    (void *)pthread_key_create, (void *)pthread_once,         (void *)pthread_setspecific,
    (void *)pthread_mutex_init, (void *)pthread_mutex_lock, (void *)pthread_mutex_unlock,
};
