/* fork_while_exiting.c: main calls exit(7) while a thread is inside fork, between the
 * tracer's prepare handler and its parent handler (linked with fork_handlers_first.c, whose
 * prepare handler holds the fork there). exit's round of destructors removes a module's fork
 * handlers as it finalizes the module; the tracer's must run all the same, or the locks its
 * prepare handler took stay held and the exit pass waits for them for ever. */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>

extern atomic_int fork_begun;

static void *kept;

__attribute__((noinline)) static void leak(void)
{
    void *block = malloc(91);
    expect("leak", block, 91, "malloc", "leak");
    kept = hide(block);
}

static void *forker(void *unused)
{
    (void)unused;
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    return NULL;
}

int main(void)
{
    leak();
    pthread_t thread;
    pthread_create(&thread, NULL, forker, NULL);
    while (!atomic_load(&fork_begun))
        sched_yield();
    exit(7);
}
