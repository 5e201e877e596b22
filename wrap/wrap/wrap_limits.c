/* wrap_limits.c: setrlimit and prlimit for `ld --wrap` (see limit_setters.h). */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <sys/types.h>

int __real_setrlimit(__rlimit_resource_t resource, const struct rlimit *limit);
int __real_setrlimit64(__rlimit_resource_t resource, const struct rlimit64 *limit);
int __real_prlimit(pid_t pid, __rlimit_resource_t resource, const struct rlimit *limit,
                   struct rlimit *old);
int __real_prlimit64(pid_t pid, __rlimit_resource_t resource, const struct rlimit64 *limit,
                     struct rlimit64 *old);

#define ENTRY(name) __wrap_##name
#define REAL(name) __real_##name
#include "../shared/limit_setters.h"
