/* worker_outlives_its_parent.c: a daemon's start: the process that opened the trace forks a
 * worker and exits at once. The worker leaves the caller's stdout and stderr, drops its
 * privileges to nobody, waits until that process has exited and been reaped, leaks a block
 * (77 bytes) and exits. It shares the trace's descriptor (no %p), and may not open the file
 * again (root's, mode 0600): the tracer took the descriptor for another file once its opener
 * was gone, and the worker lost every row. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>

static void *kept;

__attribute__((noinline)) static void leak(void)
{
    kept = hide(malloc(77));
}

int main(void)
{
    pid_t opener = getpid();
    pid_t worker = fork();
    if (worker < 0)
        return 99;
    if (worker > 0)
        return 0;
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
        _exit(98);
    if (setgid(65534) != 0 || setuid(65534) != 0)
        _exit(97);
    /* A process of root's: EPERM while it exists, a zombie included; ESRCH once reaped. */
    for (int i = 0; i < 2000 && (kill(opener, 0) == 0 || errno != ESRCH); i++) {
        struct timespec pause = {0, 10000000L};
        nanosleep(&pause, NULL);
    }
    leak();
    scrub_stack();
    return 0;
}
