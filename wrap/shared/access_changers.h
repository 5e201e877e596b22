/* access_changers.h: the libc functions that change what the process may open (its root
 * directory, its user and group ids), which both front-ends define the same way: one core
 * hook (malloc_trace_before_access_change, given the effective ids the call sets, or that
 * the root changes), then the real call, and after an id setter another hook
 * (malloc_trace_after_id_change). A front-end includes this after defining ENTRY(name) and REAL(name) (as for
 * c_allocators.h) and declaring the real functions. */
#ifndef MALLOC_TRACE_ACCESS_CHANGERS_H
#define MALLOC_TRACE_ACCESS_CHANGERS_H

#include <sys/types.h>
#include <unistd.h>

#include "../core/tracer.h"

#define UNCHANGED_USER ((uid_t)-1)
#define UNCHANGED_GROUP ((gid_t)-1)

__attribute__((visibility("default"))) int ENTRY(chroot)(const char *path)
{
    malloc_trace_before_access_change(UNCHANGED_USER, UNCHANGED_GROUP, true);
    return REAL(chroot)(path);
}

__attribute__((visibility("default"))) int ENTRY(setuid)(uid_t user)
{
    malloc_trace_before_access_change(user, UNCHANGED_GROUP, false);
    int result = REAL(setuid)(user);
    malloc_trace_after_id_change();
    return result;
}

__attribute__((visibility("default"))) int ENTRY(seteuid)(uid_t user)
{
    malloc_trace_before_access_change(user, UNCHANGED_GROUP, false);
    int result = REAL(seteuid)(user);
    malloc_trace_after_id_change();
    return result;
}

__attribute__((visibility("default"))) int ENTRY(setreuid)(uid_t real, uid_t effective)
{
    malloc_trace_before_access_change(effective, UNCHANGED_GROUP, false);
    int result = REAL(setreuid)(real, effective);
    malloc_trace_after_id_change();
    return result;
}

__attribute__((visibility("default"))) int ENTRY(setresuid)(uid_t real, uid_t effective,
                                                            uid_t saved)
{
    malloc_trace_before_access_change(effective, UNCHANGED_GROUP, false);
    int result = REAL(setresuid)(real, effective, saved);
    malloc_trace_after_id_change();
    return result;
}

__attribute__((visibility("default"))) int ENTRY(setgid)(gid_t group)
{
    malloc_trace_before_access_change(UNCHANGED_USER, group, false);
    int result = REAL(setgid)(group);
    malloc_trace_after_id_change();
    return result;
}

__attribute__((visibility("default"))) int ENTRY(setegid)(gid_t group)
{
    malloc_trace_before_access_change(UNCHANGED_USER, group, false);
    int result = REAL(setegid)(group);
    malloc_trace_after_id_change();
    return result;
}

__attribute__((visibility("default"))) int ENTRY(setregid)(gid_t real, gid_t effective)
{
    malloc_trace_before_access_change(UNCHANGED_USER, effective, false);
    int result = REAL(setregid)(real, effective);
    malloc_trace_after_id_change();
    return result;
}

__attribute__((visibility("default"))) int ENTRY(setresgid)(gid_t real, gid_t effective,
                                                            gid_t saved)
{
    malloc_trace_before_access_change(UNCHANGED_USER, effective, false);
    int result = REAL(setresgid)(real, effective, saved);
    malloc_trace_after_id_change();
    return result;
}

#endif
