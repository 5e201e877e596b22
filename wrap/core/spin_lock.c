/* spin_lock.c: see spin_lock.h. */
#define _GNU_SOURCE
#include "spin_lock.h"

#include <errno.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SPINS 100u
#define YIELDS 20u
/* The first nap; each one after is twice as long, up to the last. A waiter for a long hold
 * (a leak scan) then sleeps most of the time: with 50 us naps on a loaded machine it was
 * waiting for a CPU at nearly every look of the scan, which cannot read the stack pointer of
 * a thread that is ready to run, and took it for a thread that could not be stopped (a
 * thread on its way out, which blocks the stop signal: 9 runs in 12 of a test beside two
 * busy loops, 0 in 10 now). */
#define NAP_NANOSECONDS 50000L
#define LAST_NAP_NANOSECONDS 1000000L

static void pause_briefly(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("pause");
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* The system call itself: glibc's nanosleep is a cancellation point, and a malloc or free
 * must not become one (a thread cancelled in there would leave the program's allocator call
 * halfway). A signal cuts the nap short, which only means another look at the lock; errno
 * is the program's, and stays as it was (EINTR, else). */
static void nap(long nanoseconds)
{
    int saved_errno = errno;
    struct timespec length = {0, nanoseconds};
    syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &length, NULL);
    errno = saved_errno;
}

void spin_lock_wait(struct spin_lock *lock)
{
    /* A holder that is preempted, or that grows its shard, takes longer than spinning is
     * worth: then the CPU goes to it (a yield), or to anyone (a nap, for a holder on another
     * CPU that may hold on for long: a flush pass, the leak scan). */
    long nap_nanoseconds = NAP_NANOSECONDS;
    for (unsigned round = 0;; round += round < SPINS + YIELDS) {
        if (!atomic_load_explicit(&lock->taken, memory_order_relaxed)
            && !atomic_exchange_explicit(&lock->taken, true, memory_order_acquire))
            return;
        if (round < SPINS)
            pause_briefly();
        else if (round < SPINS + YIELDS)
            sched_yield();
        else {
            nap(nap_nanoseconds);
            if (nap_nanoseconds < LAST_NAP_NANOSECONDS)
                nap_nanoseconds *= 2;
        }
    }
}
