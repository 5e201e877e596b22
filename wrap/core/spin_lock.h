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
    atomic_bool taken;
};

/* Waits until the lock is released and takes it. */
void spin_lock_wait(struct spin_lock *lock);

/* The stack pointer that thread tid, waiting for a lock for long, published, with that lock
 * (0: none): a thread that blocks every signal (on its way out) cannot be stopped, and
 * shows in /proc as running whenever it is ready to run, even between its yields; while the
 * leak scan holds the lock it waits for, it stays where it published. */
uintptr_t spin_lock_waiter_stack(pid_t tid, const struct spin_lock **lock);

/* After fork, in the child: the parent's other threads are gone, and their ids may come
 * again. */
void spin_lock_forget_waiters(void);

static inline void spin_lock_take(struct spin_lock *lock)
{
    if (__builtin_expect(!atomic_exchange_explicit(&lock->taken, true, memory_order_acquire), 1))
        return;
    spin_lock_wait(lock);
}

static inline void spin_lock_release(struct spin_lock *lock)
{
    atomic_store_explicit(&lock->taken, false, memory_order_release);
}

/* After fork, in the child: a lock held across the fork by the prepare handler (the child
 * has only the thread that took it), released without ordering anything. */
static inline void spin_lock_reset(struct spin_lock *lock)
{
    atomic_init(&lock->taken, false);
}

#endif
