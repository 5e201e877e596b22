/* ignore_in_a_signal_handler.c: a timer's handler calls malloc_trace_ignore on the block the
 * main thread allocates and frees in a loop, so that it often interrupts a hook holding that
 * block's shard lock. Then one block is allocated, ignored from a handler and kept: it must
 * get no exit row, as one ignored outside a handler gets none. */
#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>

#include "common.h"
#include <malloctrace.h>

static void *volatile latest;
static volatile sig_atomic_t handled;

static void ignore_the_latest(int signal_number)
{
    (void)signal_number;
    if (malloc_trace_ignore)
        malloc_trace_ignore(latest);
    handled++;
}

int main(void)
{
    struct sigaction action = {0};
    action.sa_handler = ignore_the_latest;
    sigaction(SIGALRM, &action, NULL);
    struct itimerval often = {{0, 200}, {0, 200}};
    setitimer(ITIMER_REAL, &often, NULL);
    for (unsigned long i = 0; i < 3000000 || handled < 100; i++) {
        latest = malloc(24);
        free(latest);
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    static void *kept;
    kept = malloc(40);
    latest = kept;
    raise(SIGALRM);
    say("ignored from a handler: %s\n", handled >= 100 ? "yes" : "no");
    return 0;
}
