/* limit_setters.h: the libc functions that set a resource limit, which both front-ends define
 * the same way: the real call, then one core hook (see malloc_trace_on_limit_set). A
 * front-end includes this after defining ENTRY(name) and REAL(name) (as for c_allocators.h)
 * and declaring the real functions. The 64 names are those a program built with
 * _FILE_OFFSET_BITS=64 calls (the same functions in a 64-bit glibc). */
#ifndef MALLOC_TRACE_LIMIT_SETTERS_H
#define MALLOC_TRACE_LIMIT_SETTERS_H

#include <sys/resource.h>

#include "../core/tracer.h"

__attribute__((visibility("default"))) int ENTRY(setrlimit)(__rlimit_resource_t resource,
                                                            const struct rlimit *limit)
{
    int result = REAL(setrlimit)(resource, limit);
    if (result == 0)
        malloc_trace_on_limit_set((int)resource, 0);
    return result;
}

__attribute__((visibility("default"))) int ENTRY(setrlimit64)(__rlimit_resource_t resource,
                                                              const struct rlimit64 *limit)
{
    int result = REAL(setrlimit64)(resource, limit);
    if (result == 0)
        malloc_trace_on_limit_set((int)resource, 0);
    return result;
}

__attribute__((visibility("default"))) int ENTRY(prlimit)(pid_t pid, __rlimit_resource_t resource,
                                                          const struct rlimit *limit,
                                                          struct rlimit *old)
{
    int result = REAL(prlimit)(pid, resource, limit, old);
    if (result == 0 && limit != NULL)
        malloc_trace_on_limit_set((int)resource, pid);
    return result;
}

__attribute__((visibility("default"))) int ENTRY(prlimit64)(pid_t pid,
                                                            __rlimit_resource_t resource,
                                                            const struct rlimit64 *limit,
                                                            struct rlimit64 *old)
{
    int result = REAL(prlimit64)(pid, resource, limit, old);
    if (result == 0 && limit != NULL)
        malloc_trace_on_limit_set((int)resource, pid);
    return result;
}

#endif
