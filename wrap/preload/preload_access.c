/* preload_access.c: chroot and the id setters for LD_PRELOAD (see access_changers.h), calling
 * the next definitions (next_function.h). */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <sys/types.h>

#include "next_function.h"

typedef int chroot_fn(const char *path);

static _Atomic(void *) next_chroot_found, next_setuid_found, next_seteuid_found,
    next_setreuid_found, next_setresuid_found, next_setgid_found, next_setegid_found,
    next_setregid_found, next_setresgid_found;

__attribute__((constructor)) static void find_next_access_changers(void)
{
    next_function(&next_chroot_found, "chroot");
    next_function(&next_setuid_found, "setuid");
    next_function(&next_seteuid_found, "seteuid");
    next_function(&next_setreuid_found, "setreuid");
    next_function(&next_setresuid_found, "setresuid");
    next_function(&next_setgid_found, "setgid");
    next_function(&next_setegid_found, "setegid");
    next_function(&next_setregid_found, "setregid");
    next_function(&next_setresgid_found, "setresgid");
}

static int next_chroot(const char *path)
{
    return ((chroot_fn *)next_function(&next_chroot_found, "chroot"))(path);
}

#define NEXT_ONE_ID(name, type)                                                              \
    typedef int name##_fn(type id);                                                          \
    static int next_##name(type id)                                                          \
    {                                                                                        \
        return ((name##_fn *)next_function(&next_##name##_found, #name))(id);                \
    }
#define NEXT_TWO_IDS(name, type)                                                             \
    typedef int name##_fn(type real, type effective);                                        \
    static int next_##name(type real, type effective)                                        \
    {                                                                                        \
        return ((name##_fn *)next_function(&next_##name##_found, #name))(real, effective);   \
    }
#define NEXT_THREE_IDS(name, type)                                                           \
    typedef int name##_fn(type real, type effective, type saved);                            \
    static int next_##name(type real, type effective, type saved)                            \
    {                                                                                        \
        return ((name##_fn *)next_function(&next_##name##_found, #name))(real, effective,    \
                                                                          saved);            \
    }
NEXT_ONE_ID(setuid, uid_t)
NEXT_ONE_ID(seteuid, uid_t)
NEXT_TWO_IDS(setreuid, uid_t)
NEXT_THREE_IDS(setresuid, uid_t)
NEXT_ONE_ID(setgid, gid_t)
NEXT_ONE_ID(setegid, gid_t)
NEXT_TWO_IDS(setregid, gid_t)
NEXT_THREE_IDS(setresgid, gid_t)

#define ENTRY(name) name
#define REAL(name) next_##name
#include "../shared/access_changers.h"
