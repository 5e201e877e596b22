/* fork_in_handler.c: a signal handler forks while its thread is inside the tracer. The
 * handler raises the tracer's guard itself, as it stands when a handler interrupts a hook
 * (the state the tracer's fork handlers look at; a timer's signal lands there at random):
 * taking the tracer's locks then waited for ever on those the interrupted hook held. The
 * child is not traced (its leak gets no row), and says so; the parent goes on traced. */
#include "common.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

extern __thread int malloc_trace_guard;

static void *kept[2];

__attribute__((noinline)) static void leak(int which, size_t size)
{
    void *block = malloc(size);
    if (which == 0)
        expect("leak", block, (long)size, "malloc", "leak");
    kept[which] = hide(block);
}

static void fork_in_the_tracer(int signal_number)
{
    (void)signal_number;
    malloc_trace_guard++;
    pid_t child = fork();
    malloc_trace_guard--;
    if (child == 0) {
        leak(1, 62); /* the child's: untraced */
        exit(0);
    }
    int status = -1;
    waitpid(child, &status, 0);
    say("CHILD %d\n", status);
}

int main(void)
{
    signal(SIGUSR1, fork_in_the_tracer);
    raise(SIGUSR1);
    leak(0, 61);
    return 0;
}
