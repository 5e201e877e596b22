/* preload_limits.c: setrlimit and prlimit for LD_PRELOAD (see limit_setters.h), calling the
 * next definitions (next_function.h). */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "next_function.h"

typedef int setrlimit_fn(__rlimit_resource_t resource, const struct rlimit *limit);
typedef int setrlimit64_fn(__rlimit_resource_t resource, const struct rlimit64 *limit);
typedef int prlimit_fn(pid_t pid, __rlimit_resource_t resource, const struct rlimit *limit,
                       struct rlimit *old);
typedef int prlimit64_fn(pid_t pid, __rlimit_resource_t resource, const struct rlimit64 *limit,
                         struct rlimit64 *old);

static _Atomic(void *) next_setrlimit_found, next_setrlimit64_found, next_prlimit_found,
    next_prlimit64_found;

__attribute__((constructor)) static void find_next_limit_setters(void)
{
    next_function(&next_setrlimit_found, "setrlimit");
    next_function(&next_setrlimit64_found, "setrlimit64");
    next_function(&next_prlimit_found, "prlimit");
    next_function(&next_prlimit64_found, "prlimit64");
}

static int next_setrlimit(__rlimit_resource_t resource, const struct rlimit *limit)
{
    return ((setrlimit_fn *)next_function(&next_setrlimit_found, "setrlimit"))(resource, limit);
}

static int next_setrlimit64(__rlimit_resource_t resource, const struct rlimit64 *limit)
{
    return ((setrlimit64_fn *)next_function(&next_setrlimit64_found, "setrlimit64"))(resource,
                                                                                   limit);
}

static int next_prlimit(pid_t pid, __rlimit_resource_t resource, const struct rlimit *limit,
                        struct rlimit *old)
{
    return ((prlimit_fn *)next_function(&next_prlimit_found, "prlimit"))(pid, resource, limit,
                                                                       old);
}

static int next_prlimit64(pid_t pid, __rlimit_resource_t resource, const struct rlimit64 *limit,
                          struct rlimit64 *old)
{
    return ((prlimit64_fn *)next_function(&next_prlimit64_found, "prlimit64"))(pid, resource,
                                                                             limit, old);
}

#define ENTRY(name) name
#define REAL(name) next_##name
#include "../shared/limit_setters.h"
