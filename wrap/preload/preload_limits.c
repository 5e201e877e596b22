/* preload_limits.c: setrlimit and prlimit for LD_PRELOAD (see limit_setters.h). The real ones
 * are found with dlsym(RTLD_NEXT) at their first call, as dlclose is (preload_dl.c). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

typedef int setrlimit_fn(__rlimit_resource_t resource, const struct rlimit *limit);
typedef int setrlimit64_fn(__rlimit_resource_t resource, const struct rlimit64 *limit);
typedef int prlimit_fn(pid_t pid, __rlimit_resource_t resource, const struct rlimit *limit,
                       struct rlimit *old);
typedef int prlimit64_fn(pid_t pid, __rlimit_resource_t resource, const struct rlimit64 *limit,
                         struct rlimit64 *old);

static void *next_function(_Atomic(void *) *cached, const char *name)
{
    void *found = atomic_load_explicit(cached, memory_order_acquire);
    if (found == NULL) {
        found = dlsym(RTLD_NEXT, name);
        atomic_store_explicit(cached, found, memory_order_release);
    }
    return found;
}

static _Atomic(void *) next_setrlimit_found, next_setrlimit64_found, next_prlimit_found,
    next_prlimit64_found;

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
