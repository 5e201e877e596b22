/* many_frees_in_a_signal_handler.c: a timer's handler frees 32 blocks at a time while the
 * main thread sits in a hook of the tracer's that takes no lock of the allocator's
 * (setrlimit(RLIMIT_AS) makes the tracer fit its reservations), so that the handler often
 * interrupts the tracer, which remembers the calls to apply at the hook's end: 16 of them.
 * The tracer must say, once, that it did not see the others. */
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>

#include "common.h"

#define BLOCKS 64000
#define FREES_A_SIGNAL 32

static void *blocks[BLOCKS];
static volatile int next;

static void free_some(int signal_number)
{
    (void)signal_number;
    for (int i = 0; i < FREES_A_SIGNAL && next < BLOCKS; i++) {
        free(blocks[next]);
        blocks[next++] = NULL;
    }
}

int main(void)
{
    for (int i = 0; i < BLOCKS; i++)
        blocks[i] = malloc(24 + (size_t)(i % 7) * 64);
    struct sigaction action = {0};
    action.sa_handler = free_some;
    sigaction(SIGALRM, &action, NULL);
    struct itimerval often = {{0, 300}, {0, 300}};
    setitimer(ITIMER_REAL, &often, NULL);
    struct rlimit limit = {(rlim_t)1 << 40, RLIM_INFINITY};
    while (next < BLOCKS)
        setrlimit(RLIMIT_AS, &limit);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    say("all %d blocks freed\n", BLOCKS);
    return 0;
}
