/* fork_while_limits_change.c: two threads set RLIMIT_AS over and over (each call makes the
 * tracer fit its reservations under the new limit, taking its locks), while the main thread
 * forks 300 children that each allocate (a new thread id: a new block context) and exit. No
 * child may find a lock of the tracer's held by a thread it does not have. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define FORKS 300
#define LIMITERS 2

static volatile int stop;
static void *volatile sink;

static void *set_limits(void *unused)
{
    (void)unused;
    struct rlimit limit = {(rlim_t)64 << 30, RLIM_INFINITY};
    while (!stop)
        setrlimit(RLIMIT_AS, &limit);
    return NULL;
}

/* Whether the child ended within 5 s (else it is killed). */
static int child_ended(pid_t child)
{
    int status;
    for (int waited = 0; waited < 5000; waited++) {
        if (waitpid(child, &status, WNOHANG) == child)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0;
        sleep_ms(1);
    }
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    return 0;
}

int main(void)
{
    pthread_t limiters[LIMITERS];
    for (int i = 0; i < LIMITERS; i++)
        pthread_create(&limiters[i], NULL, set_limits, NULL);
    int ended = 0;
    for (int i = 0; i < FORKS; i++) {
        pid_t child = fork();
        if (child == 0) {
            sink = malloc(64);
            free(sink);
            _exit(0);
        }
        if (child < 0 || !child_ended(child))
            break;
        ended++;
    }
    stop = 1;
    for (int i = 0; i < LIMITERS; i++)
        pthread_join(limiters[i], NULL);
    say("children that ended: %d of %d\n", ended, FORKS);
    return 0;
}
