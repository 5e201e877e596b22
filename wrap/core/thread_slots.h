/* thread_slots.h: a record per thread that other threads read: whether it is inside the
 * unwinder (the fork handler waits for that) and which block it is moving (realloc's block
 * is in no table between the two hooks: the leak scan scans it from here). Records live in
 * memory from mmap and are never freed, so a reader never touches the storage of a thread
 * that has exited; an exited thread's record serves the next new thread. */
#ifndef MALLOC_TRACE_THREAD_SLOTS_H
#define MALLOC_TRACE_THREAD_SLOTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct thread_slot {
    _Atomic int unwinding;
    _Atomic uintptr_t moving;    /* 0: none */
    _Atomic size_t moving_size;
    struct thread_slot *next;          /* in the list of all records */
    struct thread_slot *next_recycled; /* in the list of exited threads' records */
} __attribute__((aligned(64)));

/* The calling thread's record, made on first use; NULL when the kernel refuses memory. */
struct thread_slot *thread_slot_own(void);

/* Every record made so far, newest first (a thread that exited leaves its record idle
 * until a new thread takes it). */
struct thread_slot *thread_slot_first(void);

/* fork: making a record takes a lock, held across fork by the prepare handler. */
void thread_slots_lock(void);
void thread_slots_unlock(bool in_child);

#endif
