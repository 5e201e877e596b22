/* main_calls_pthread_exit.c: `main_calls_pthread_exit alone|worker`: main ends with
 * pthread_exit, alone or while a worker runs on, which leaks a block and returns. The last
 * thread to end ends the process with status 0, and the exit pass writes the leak. The
 * flusher thread, counted by glibc as a thread of the program, kept the process alive for
 * ever. */
#include "common.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void *volatile kept;

__attribute__((noinline)) static void leak_a_block(void)
{
    kept = forget(malloc(33));
}

static void *worker(void *unused)
{
    (void)unused;
    sleep_ms(50); /* main has ended by then */
    leak_a_block();
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    free(malloc(8)); /* the flusher runs from the first allocation */
    if (strcmp(argv[1], "worker") == 0) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, worker, NULL) != 0)
            return 1;
    } else {
        leak_a_block();
    }
    pthread_exit(NULL);
}
