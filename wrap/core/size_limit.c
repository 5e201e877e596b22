/* size_limit.c: see size_limit.h. */
#define _GNU_SOURCE
#include "size_limit.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

size_t size_limit_room(int fd)
{
    struct rlimit limit;
    struct stat status;
    if (getrlimit(RLIMIT_FSIZE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY
        || fstat(fd, &status) != 0)
        return SIZE_MAX;
    if ((uint64_t)status.st_size >= limit.rlim_cur)
        return 0;
    uint64_t room = limit.rlim_cur - (uint64_t)status.st_size;
    return room < SIZE_MAX ? (size_t)room : SIZE_MAX;
}

void size_limit_hold(sigset_t *previous)
{
    sigset_t xfsz;
    sigemptyset(&xfsz);
    sigaddset(&xfsz, SIGXFSZ);
    pthread_sigmask(SIG_BLOCK, &xfsz, previous);
}

void size_limit_release(const sigset_t *previous, bool refused)
{
    int saved_errno = errno;
    if (refused && !sigismember(previous, SIGXFSZ)) {
        sigset_t xfsz;
        sigemptyset(&xfsz);
        sigaddset(&xfsz, SIGXFSZ);
        struct timespec no_wait = {0, 0};
        int taken;
        do
            taken = sigtimedwait(&xfsz, NULL, &no_wait);
        while (taken == SIGXFSZ);
    }
    pthread_sigmask(SIG_SETMASK, previous, NULL);
    errno = saved_errno;
}
