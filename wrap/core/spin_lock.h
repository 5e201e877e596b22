/* spin_lock.h: the live table's shard lock. Taking it is one locked instruction and
 * releasing it a plain store, where a pthread_mutex_t costs a locked instruction each way and
 * two calls through the PLT; a malloc+free takes a shard lock twice. A thread that finds the
 * lock taken spins briefly, then yields, then sleeps: the sections it guards are short, but
 * a growth of the shard or a flush pass holds one for milliseconds, and the leak scan holds
 * them all for as long as it scans. */
#ifndef MALLOC_TRACE_SPIN_LOCK_H
#define MALLOC_TRACE_SPIN_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Zero-initialized: released. */
struct spin_lock {
    _Atomic unsigned char taken; /* one of the values below */
};

enum spin_lock_hold {
    SPIN_LOCK_FREE,
    SPIN_LOCK_HELD,      /* for a few instructions, or a growth of the shard */
    SPIN_LOCK_HELD_LONG, /* for a pass: a flush, the leak scan */
};

/* Waits until the lock is released and takes it, for hold. A waiter for a long hold naps
 * from the start, where it would spin and then yield for a short one: sched_yield is a call
 * that a seccomp filter may kill (sshd's child before authentication has one that does),
 * and a thread waiting for the flusher's pass made it where the program itself never does. */
void spin_lock_wait(struct spin_lock *lock, enum spin_lock_hold hold);

/* The stack pointer that thread tid, waiting for a lock for long, published, with that lock
 * (0: none): a thread that blocks every signal (on its way out) cannot be stopped, and
 * shows in /proc as running whenever it is ready to run, even between its yields; while the
 * leak scan holds the lock it waits for, it stays where it published. */
uintptr_t spin_lock_waiter_stack(pid_t tid, const struct spin_lock **lock);

/* After fork, in the child: the parent's other threads are gone, and their ids may come
 * again. */
void spin_lock_forget_waiters(void);

/* A compare-and-swap, not an exchange: a waiter's exchange would overwrite the holder's
 * kind of hold, which the other waiters read. */
static inline bool spin_lock_try(struct spin_lock *lock, enum spin_lock_hold hold)
{
    unsigned char free_lock = SPIN_LOCK_FREE;
    return atomic_compare_exchange_strong_explicit(&lock->taken, &free_lock, (unsigned char)hold,
                                                   memory_order_acquire, memory_order_relaxed);
}

static inline void spin_lock_take(struct spin_lock *lock)
{
    if (__builtin_expect(spin_lock_try(lock, SPIN_LOCK_HELD), 1))
        return;
    spin_lock_wait(lock, SPIN_LOCK_HELD);
}

/* For a pass, which holds it long (see spin_lock_wait). */
static inline void spin_lock_take_long(struct spin_lock *lock)
{
    if (!spin_lock_try(lock, SPIN_LOCK_HELD_LONG))
        spin_lock_wait(lock, SPIN_LOCK_HELD_LONG);
}

static inline void spin_lock_release(struct spin_lock *lock)
{
    atomic_store_explicit(&lock->taken, SPIN_LOCK_FREE, memory_order_release);
}

/* After fork, in the child: a lock held across the fork by the prepare handler (the child
 * has only the thread that took it), released without ordering anything. */
static inline void spin_lock_reset(struct spin_lock *lock)
{
    atomic_init(&lock->taken, SPIN_LOCK_FREE);
}

#endif
