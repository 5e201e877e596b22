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

/* Threads waiting for long (see spin_lock_waiter_stack); past WAITERS, a waiter publishes
 * nothing, and the scan looks in /proc as before. */
#define WAITERS 256
static struct waiter {
    _Atomic pid_t tid; /* 0: a free entry */
    _Atomic uintptr_t stack_pointer;
    const struct spin_lock *_Atomic lock;
} waiters[WAITERS];

uintptr_t spin_lock_waiter_stack(pid_t tid, const struct spin_lock **lock)
{
    for (unsigned i = 0; i < WAITERS; i++)
        if (atomic_load(&waiters[i].tid) == tid) {
            *lock = atomic_load(&waiters[i].lock);
            uintptr_t stack_pointer = atomic_load(&waiters[i].stack_pointer);
            /* Still the thread's: not withdrawn meanwhile and taken by another waiter. */
            return atomic_load(&waiters[i].tid) == tid ? stack_pointer : 0;
        }
    return 0;
}

void spin_lock_forget_waiters(void)
{
    for (unsigned i = 0; i < WAITERS; i++)
        atomic_store(&waiters[i].tid, 0);
}

/* An address below every frame of its caller's (spin_lock_wait's own included). */
__attribute__((noinline)) static uintptr_t stack_below_caller(void)
{
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    __asm__ volatile("" ::: "memory"); /* no tail call, no inlining of the frame away */
    return here;
}

/* The waiter's entry, or NULL when none is free. The entry is complete before its tid is
 * stored: the scan looks entries up by tid. */
static struct waiter *publish_waiter(const struct spin_lock *lock)
{
    int saved_errno = errno;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    errno = saved_errno;
    uintptr_t stack_pointer = stack_below_caller();
    for (unsigned n = 0, i = (unsigned)tid % WAITERS; n < WAITERS; n++, i = (i + 1) % WAITERS) {
        pid_t none = 0;
        /* Claimed with a tid no thread has (-1), then filled in, then named. */
        if (atomic_compare_exchange_strong(&waiters[i].tid, &none, -1)) {
            atomic_store(&waiters[i].stack_pointer, stack_pointer);
            atomic_store(&waiters[i].lock, lock);
            atomic_store(&waiters[i].tid, tid);
            return &waiters[i];
        }
    }
    return NULL;
}

void spin_lock_wait(struct spin_lock *lock, enum spin_lock_hold hold)
{
    /* The caller's registers are on the stack from here on, where the leak scan reads them
     * (see spin_lock_waiter_stack). */
    __builtin_unwind_init();
    struct waiter *published = NULL;
    bool publishing_tried = false;
    /* A holder that is preempted, or that grows its shard, takes longer than spinning is
     * worth: then the CPU goes to it (a yield), or to anyone (a nap, for a holder on another
     * CPU that may hold on for long: a flush pass, the leak scan, which say so). */
    long nap_nanoseconds = NAP_NANOSECONDS;
    for (unsigned round = 0;; round += round < SPINS + YIELDS) {
        unsigned char seen = atomic_load_explicit(&lock->taken, memory_order_relaxed);
        if (seen == SPIN_LOCK_FREE && spin_lock_try(lock, hold)) {
            if (published != NULL)
                atomic_store(&published->tid, 0);
            return;
        }
        if (seen == SPIN_LOCK_HELD_LONG && round < SPINS + YIELDS)
            round = SPINS + YIELDS;
        if (round >= SPINS && !publishing_tried) {
            published = publish_waiter(lock);
            publishing_tried = true;
        }
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
