/* block_context.h: what the blocks allocated at one place have in common (stack, thread,
 * entry point, and the high bits of their time), each distinct one stored once under a 32-bit
 * id, so that a live block takes 16 bytes in the live table instead of 32.
 *
 * Every call is made with a shard lock of the live table held, or all of them: that is what
 * lets live_table renumber the contexts (dropping those no block uses any more) while it holds
 * every shard lock, knowing no other thread holds an id it has not yet stored in a slot. */
#ifndef MALLOC_TRACE_BLOCK_CONTEXT_H
#define MALLOC_TRACE_BLOCK_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>

#define BLOCK_CONTEXT_NONE UINT32_MAX

struct block_context {
    uint32_t stack_id;
    int32_t thread_id;
    uint32_t time_epoch; /* the block's time_ms >> BLOCK_CONTEXT_EPOCH_SHIFT */
    uint8_t entry_point;
};

/* The low bits of a block's time live in its slot, the rest here: a context lasts 6.2 days
 * of allocations, then the same place in the same thread starts a new one. */
#define BLOCK_CONTEXT_EPOCH_SHIFT 29

/* The id of context, added when new; BLOCK_CONTEXT_NONE when the kernel refuses memory.
 * hint: NULL, or a word of the caller's where intern keeps the id it returns, and which it
 * tries first (checked: any value will do). */
uint32_t block_context_intern(const struct block_context *context, uint32_t *hint);

/* The context of an id that intern returned since the last renumbering. */
const struct block_context *block_context_of(uint32_t id);

/* Contexts held (those dropped by the last renumbering not counted). */
uint32_t block_context_count(void);

/* See os_fit_reservation: then no context is added past what is left. */
void block_context_fit_reservation(void);

/* Whether renumbering would pay: the contexts have doubled since the last one, or an addition
 * failed for want of memory. Takes no lock. */
bool block_context_renumbering_pays(void);

/* Renumbering, with every shard lock held: begin returns an array of block_context_count()
 * zeroes (NULL when out of memory); the caller sets used[id] to 1 for every id a slot holds;
 * renumber keeps just those, and writes into used[id] the new id of each kept one; end frees
 * the array. */
uint32_t *block_context_renumber_begin(void);
void block_context_renumber(uint32_t *used);
void block_context_renumber_end(uint32_t *used);

#endif
