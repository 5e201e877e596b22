/* spin_lock.c: see spin_lock.h. */
#define _GNU_SOURCE
#include "spin_lock.h"

#include <sched.h>
#include <time.h>

#define SPINS 100u
#define YIELDS 20u
#define NAP_NANOSECONDS 50000L

static void pause_briefly(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("pause");
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

void spin_lock_wait(struct spin_lock *lock)
{
    /* A holder that is preempted, or that grows its shard, takes longer than spinning is
     * worth: then the CPU goes to it (a yield), or to anyone (a sleep, for a holder on
     * another CPU that may hold on for long). */
    for (unsigned round = 0;; round++) {
        if (!atomic_load_explicit(&lock->taken, memory_order_relaxed)
            && !atomic_exchange_explicit(&lock->taken, true, memory_order_acquire))
            return;
        if (round < SPINS) {
            pause_briefly();
        } else if (round < SPINS + YIELDS) {
            sched_yield();
        } else {
            struct timespec nap = {0, NAP_NANOSECONDS};
            nanosleep(&nap, NULL);
        }
    }
}
