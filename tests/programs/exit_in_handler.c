/* exit_in_handler.c: leaks three blocks, then allocates and frees in a loop until a timer's
 * signal handler calls exit(42) (as a daemon's SIGTERM handler does). The handler most often
 * interrupts the tracer itself: then no exit pass can run (the interrupted code may hold any
 * of the tracer's locks), and the tracer must say so rather than lose the rows silently. */
#include "common.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>

static void *volatile kept[3];

__attribute__((noinline)) static void leak_block(int i)
{
    void *block = malloc(321);
    kept[i] = forget(block);
}

static void stop(int signal_number)
{
    (void)signal_number;
    exit(42);
}

int main(void)
{
    for (int i = 0; i < 3; i++)
        leak_block(i);
    scrub_stack(); /* the loop's frames must find no copy of a leaked block's address */
    signal(SIGALRM, stop);
    struct itimerval in_a_while = {{0, 0}, {0, 200000}};
    setitimer(ITIMER_REAL, &in_a_while, NULL);
    for (;;)
        free(malloc(64));
}
