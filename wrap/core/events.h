/* events.h: what the tracer knows about a live block, and a row waiting to be written. */
#ifndef MALLOC_TRACE_EVENTS_H
#define MALLOC_TRACE_EVENTS_H

#include <stdint.h>

#include "entry_points.h"

enum block_flag {
    BLOCK_WRITTEN_AS_MALLOC = 1u << 0, /* a periodic flush wrote its `malloc` row */
    BLOCK_WRITTEN_AT_EXIT = 1u << 1,   /* its `leak` or `indirect` row is written: never again */
    BLOCK_IGNORED = 1u << 2,           /* malloc_trace_ignore or malloc_trace_disable */
};

/* Whether a block with these flags gets a `free` row when it is freed: its `malloc` row was
 * written, and no exit row, after which a block is never written again. */
static inline int block_freed_late(unsigned flags)
{
    return (flags & (BLOCK_WRITTEN_AS_MALLOC | BLOCK_WRITTEN_AT_EXIT)) == BLOCK_WRITTEN_AS_MALLOC;
}

/* A block as the tracer's code sees it; the live table packs it into 16 bytes (live_table.c).
 * 48 bits of milliseconds last until the year 10889. */
struct live_block {
    uintptr_t address;
    uint64_t size;
    uint64_t time_ms : 48;
    uint64_t entry_point : 8; /* enum entry_point: frame 0 of the stack */
    uint64_t flags : 8;       /* enum block_flag */
    uint32_t stack_id;
    int32_t thread_id;
};

enum event_kind { EVENT_MALLOC, EVENT_FREE, EVENT_LEAK, EVENT_INDIRECT, EVENT_REACHABLE };

struct trace_event {
    uintptr_t address;
    uint64_t size;
    uint64_t time_ms;
    uint32_t stack_id;
    int32_t thread_id;
    uint8_t entry_point;
    uint8_t kind; /* enum event_kind */
};

/* The row of kind that a live block gives. */
static inline struct trace_event event_of_block(const struct live_block *block,
                                                enum event_kind kind)
{
    struct trace_event event = {
        .address = block->address,
        .size = block->size,
        .time_ms = block->time_ms,
        .stack_id = block->stack_id,
        .thread_id = block->thread_id,
        .entry_point = block->entry_point,
        .kind = (uint8_t)kind,
    };
    return event;
}

#endif
