/* scans_during_thread_churn.c: two threads start short-lived detached threads without end,
 * each of which swaps a block of its own into one of 64 global slots and frees the one it
 * took out, while main runs 50 leak scans. A thread on its way out blocks every signal and
 * may then wait, in its last frees, for a lock of the tracer's that the scan holds: it
 * cannot answer the scan's signal, but it is napping in a system call, where the scan finds
 * its stack. Every block is in a slot: no leak, and no thread that could not be stopped. */
#include "common.h"

#include <malloctrace.h>
#include <pthread.h>
#include <stdlib.h>

#define SLOTS 64

static void *volatile slots[SLOTS];
static volatile int stop;

static void *swap_a_block(void *argument)
{
    long i = (long)argument;
    void *old = __atomic_exchange_n(&slots[i % SLOTS], malloc(48), __ATOMIC_SEQ_CST);
    free(old);
    return NULL;
}

static void *start_threads(void *unused)
{
    (void)unused;
    for (long i = 0; !stop; i++) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, swap_a_block, (void *)i) == 0)
            pthread_detach(thread);
        else
            usleep(100);
    }
    return NULL;
}

int main(void)
{
    pthread_t starters[2];
    for (int k = 0; k < 2; k++)
        pthread_create(&starters[k], NULL, start_threads, NULL);
    long found = 0;
    for (int scan = 0; scan < 50; scan++) {
        found += (long)malloc_trace_check_leaks();
        usleep(2000);
    }
    stop = 1;
    for (int k = 0; k < 2; k++)
        pthread_join(starters[k], NULL);
    usleep(100000); /* the last detached threads end */
    say("FOUND %ld\n", found);
    return 0;
}
