/* signals.c: a signal handler that allocates and frees (not async-signal-safe, but programs
 * do it) while the interrupted thread reallocates and frees without pause. It must not
 * deadlock the tracer, and a block the handler frees must not be reported as a leak.
 * glibc itself deadlocks when a handler takes an arena lock the interrupted malloc holds, so
 * the handler only frees, and only blocks glibc mapped on their own (a fixed mmap threshold),
 * which it unmaps without taking any lock. */
#include "common.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

static void *victim;
static atomic_bool done;
static pthread_t main_thread;

static void handler(int signal_number)
{
    (void)signal_number;
    if (victim != NULL) {
        free(victim); /* freed by the handler, whatever the thread was doing */
        victim = NULL;
    }
}

static void *sender(void *unused)
{
    (void)unused;
    for (int i = 0; i < 3000; i++) {
        pthread_kill(main_thread, SIGUSR1);
        if (i % 100 == 99)
            sleep_ms(1);
    }
    atomic_store(&done, true);
    return NULL;
}

int main(void)
{
    struct sigaction action = {.sa_handler = handler, .sa_flags = SA_RESTART};
    sigemptyset(&action.sa_mask);
    sigaction(SIGUSR1, &action, NULL);
    main_thread = pthread_self();
    mallopt(M_MMAP_THRESHOLD, 128 * 1024); /* fixed: larger blocks are always mapped */
    void *block = malloc(2000);
    pthread_t thread;
    pthread_create(&thread, NULL, sender, NULL);
    while (!atomic_load(&done)) {
        block = realloc(block, 2000 + (size_t)(rand() % 1000));
        if (victim == NULL) {
            sigset_t usr1, previous;
            sigemptyset(&usr1);
            sigaddset(&usr1, SIGUSR1);
            pthread_sigmask(SIG_BLOCK, &usr1, &previous);
            victim = malloc(256 * 1024);
            pthread_sigmask(SIG_SETMASK, &previous, NULL);
        }
        free(malloc(64));
    }
    pthread_join(thread, NULL);
    free(block);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL); /* no handler may free it now */
    say("VICTIM %p\n", victim);
    return 0;
}
