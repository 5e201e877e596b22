/* thread_ending_during_a_scan.c: a thread blocks every signal, as every thread does on its
 * way out, and ends 20 ms into a leak scan (malloc_trace_check_leaks), which signalled it to
 * stop and waits for it. The scan takes it for gone: no line says it could not be stopped
 * (the scan used to wait the whole 2 s for it, then say so). */
#include "common.h"

#include <malloctrace.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

static atomic_int blocking;
static void *volatile kept;

__attribute__((noinline)) static void leak_a_block(void)
{
    kept = forget(malloc(55));
}

static void *block_every_signal_then_end(void *unused)
{
    (void)unused;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    atomic_store(&blocking, 1);
    sleep_ms(20);
    return NULL;
}

int main(void)
{
    leak_a_block();
    pthread_t thread;
    if (pthread_create(&thread, NULL, block_every_signal_then_end, NULL) != 0)
        return 1;
    while (!atomic_load(&blocking))
        sleep_ms(1);
    say("FOUND %ld\n", malloc_trace_check_leaks());
    pthread_join(thread, NULL);
    return 0;
}
