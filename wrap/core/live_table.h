/* live_table.h: every live block by address, in shards that each have one lock, plus the
 * free rows waiting for the flusher (kept under the same shard lock, so that a free takes
 * one lock at a time). */
#ifndef MALLOC_TRACE_LIVE_TABLE_H
#define MALLOC_TRACE_LIVE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event_log.h"
#include "events.h"
#include "spin_lock.h"

/* Records a block; a block already held at that address is replaced (a static libc's
 * strdup calls malloc itself: the outer, more precise record wins). context_hint: NULL, or a
 * word the caller keeps for where the block was allocated, which the table keeps the id of
 * the block's context in (block_context_intern). */
void live_table_insert(const struct live_block *block, uint32_t *context_hint);

/* Starts loading the slot where a block at address goes, with no lock, so that its cache
 * miss (a table of a million blocks misses on every insert) overlaps with what the caller
 * does before live_table_insert: the stack capture. */
void live_table_prefetch(uintptr_t address);

/* Removes the block at address into *out; false when the table does not hold it. */
bool live_table_take(uintptr_t address, struct live_block *out);

/* The same, but sets only the address, size and flags of *out (the rest is left as it was):
 * what a free needs. The rest comes from the block's context, and loading it missed the cache
 * on most frees of python3 (0.7% of its traced run, and the stall).
 * release: NULL, or the real free, called with address once, between taking the shard's lock
 * and looking the block up (see lock_and_find in live_table.c). */
bool live_table_remove(uintptr_t address, struct live_block *out, void (*release)(void *));

/* Whether a block could not be held for want of memory: a free of an address not held may
 * then be of such a block, and is no orphan free that can be told. */
bool live_table_lost_blocks(void);

/* Sets the size of the block at address; false when the table does not hold it. */
bool live_table_resize(uintptr_t address, uint64_t size);

/* ORs flags into the block at address; false when the table does not hold it. */
bool live_table_add_flags(uintptr_t address, uint8_t flags);

/* Queues a `free` row for the flusher; returns the rows now queued in that shard. */
size_t live_table_queue_event(const struct trace_event *event);

/* Number of blocks held (locks each shard in turn). */
size_t live_table_count(void);
/* Slots the shards have room for, 16 bytes each (locks each shard in turn). */
size_t live_table_slots(void);

enum live_table_pass {
    /* queued free rows, then a `malloc` row for each block older than min_age_ms not yet
     * written; those blocks are marked BLOCK_WRITTEN_AS_MALLOC. A shard left sparse gives
     * most of its slots back. */
    PASS_PERIODIC,
    /* queued free rows, then a `leak` row for each block neither ignored nor written at
     * exit; those are marked BLOCK_WRITTEN_AT_EXIT (the exit pass when no leak scan can
     * run) */
    PASS_EXIT,
    /* queued free rows only (the leak scan gives the rest) */
    PASS_FREE_ROWS,
};
/* Appends the rows of one pass to out, one shard at a time. When out has no memory for a
 * row, empty is called to write and empty it, with no lock held, and the pass goes on: at
 * exit, a program that took all the memory its limit allows lost every row. */
void live_table_collect(enum live_table_pass pass, uint64_t now_ms, uint64_t min_age_ms,
                        struct event_log *out, void (*empty)(struct event_log *out));

/* With every shard locked (live_table_lock_all): the leak scan's view of the table. */
size_t live_table_count_locked(void);
/* Copies at most max blocks into out; returns how many. */
size_t live_table_copy_locked(struct live_block *out, size_t max);
/* A leak scan's start, with every shard locked: moves the queued `free` rows to out, and
 * returns the scan's number for live_table_end_scan. */
unsigned live_table_begin_scan_locked(struct event_log *out);
/* Its end, with no shard locked: waits (a while at most) for the late `free` rows of blocks
 * that had left the table but had their rows not queued yet when the scan began, and moves
 * them to out. */
void live_table_end_scan(unsigned scan, struct event_log *out);
void live_table_add_flags_locked(uintptr_t address, uint8_t flags);

/* fork: the prepare handler takes every shard lock, the parent releases them, the child
 * re-creates them and drops the queued rows (its parent writes those). */
/* See os_fit_reservation: a shard that grows past what is left moves to a new reservation. */
void live_table_fit_reservations(void);

void live_table_lock_all(void);
void live_table_unlock_all(void);
/* Whether lock is one of the shards' (those live_table_lock_all takes). */
bool live_table_is_shard_lock(const struct spin_lock *lock);
void live_table_reset_in_child(void);

#endif
