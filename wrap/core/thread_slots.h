/* thread_slots.h: a record per thread that other threads read: whether it is inside the
 * unwinder (the fork handler waits for that) and which block it is moving (realloc's block
 * is in no table between the two hooks: the leak scan scans it from here), and whether a
 * late `free` row of its is on its way (the scan waits for it); and the frames of its
 * captures, kept off its stack (see backtrace_capture). Records live in
 * memory from mmap and are never freed, so a reader never touches the storage of a thread
 * that has exited; an exited thread's record serves the next new thread. */
#ifndef MALLOC_TRACE_THREAD_SLOTS_H
#define MALLOC_TRACE_THREAD_SLOTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backtrace.h"

struct thread_slot {
    _Atomic int unwinding;
    _Atomic uintptr_t moving;    /* 0: none */
    _Atomic size_t moving_size;
    struct thread_slot *next;          /* in the list of all records */
    struct thread_slot *next_recycled; /* in the list of exited threads' records */
    /* A late `free` row on its way: its block left the table, the row is not queued yet;
     * and the count of leak scans when the block left (see live_table.c). */
    _Atomic bool row_on_the_way;
    _Atomic unsigned row_scan;
    void *frames[BACKTRACE_MAX_FRAMES];
} __attribute__((aligned(64)));

extern __thread struct thread_slot *thread_slot_mine __attribute__((tls_model("initial-exec")));

/* Makes the calling thread's record; NULL when the kernel refuses memory. */
struct thread_slot *thread_slot_make(void);

/* The calling thread's record, made on first use; NULL when the kernel refuses memory.
 * Inline: every capture asks. */
static inline struct thread_slot *thread_slot_own(void)
{
    struct thread_slot *slot = thread_slot_mine;
    return __builtin_expect(slot != NULL, 1) ? slot : thread_slot_make();
}

/* Every record made so far, newest first (a thread that exited leaves its record idle
 * until a new thread takes it). */
struct thread_slot *thread_slot_first(void);

/* fork: making a record takes a lock, held across fork by the prepare handler. */
void thread_slots_lock(void);
void thread_slots_unlock(bool in_child);

#endif
