/* blocked_signals.c: threads that block every signal cannot be stopped for the leak scan.
 * One waits in read(2): the kernel shows its stack pointer, so its stack is still scanned
 * and the block only it holds is reachable. The other spins: the tracer says it could not
 * stop it (the line names its thread id, printed as SPINNER). */
#include "common.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

static int ready_pipe[2];
static int never_written[2];

__attribute__((noinline)) static char *allocate(size_t size)
{
    char *block = malloc(size);
    memset(block, 0, size);
    return block;
}

static void block_every_signal(void)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
}

static void *wait_in_read(void *unused)
{
    (void)unused;
    block_every_signal();
    char *volatile on_stack = allocate(61);
    expect("reachable", on_stack, 61, "malloc", "allocate");
    if (write(ready_pipe[1], "w", 1) != 1)
        _exit(98);
    char byte;
    while (read(never_written[0], &byte, 1) < 0)
        continue;
    return (void *)on_stack;
}

static void *spin(void *unused)
{
    (void)unused;
    block_every_signal();
    say("SPINNER %ld\n", (long)syscall(SYS_gettid));
    if (write(ready_pipe[1], "s", 1) != 1)
        _exit(98);
    for (volatile unsigned long turns = 0;; turns++)
        continue;
    return NULL;
}

int main(void)
{
    if (pipe(ready_pipe) != 0 || pipe(never_written) != 0)
        return 97;
    pthread_t waiter, spinner;
    pthread_create(&waiter, NULL, wait_in_read, NULL);
    pthread_create(&spinner, NULL, spin, NULL);
    char byte;
    for (int answers = 0; answers < 2;)
        answers += read(ready_pipe[0], &byte, 1) == 1;
    sleep_ms(50); /* the waiter is inside read(2) by now */
    char *leaked = allocate(62);
    expect("leak", leaked, 62, "malloc", "allocate");
    say("# %p\n", hide(leaked));
    leaked = NULL;
    return 0;
}
