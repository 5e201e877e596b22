/* wrap_access.c: chroot and the id setters for `ld --wrap` (see access_changers.h). */
#define _GNU_SOURCE
#include <sys/types.h>

int __real_chroot(const char *path);
int __real_setuid(uid_t user);
int __real_seteuid(uid_t user);
int __real_setreuid(uid_t real, uid_t effective);
int __real_setresuid(uid_t real, uid_t effective, uid_t saved);
int __real_setgid(gid_t group);
int __real_setegid(gid_t group);
int __real_setregid(gid_t real, gid_t effective);
int __real_setresgid(gid_t real, gid_t effective, gid_t saved);

#define ENTRY(name) __wrap_##name
#define REAL(name) __real_##name
#include "../shared/access_changers.h"
