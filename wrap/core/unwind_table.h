/* unwind_table.h: a compact unwind table per loaded module, built from its .eh_frame the
 * first time a stack passes through it, and the lookup of a frame's rule: a per-thread
 * cache of recent code addresses first, then a binary search in the module's table. */
#ifndef MALLOC_TRACE_UNWIND_TABLE_H
#define MALLOC_TRACE_UNWIND_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "backtrace.h"
#include "eh_frame.h"

/* Direct-mapped, per thread: a program's allocation sites stay within a few hundred code
 * addresses for long stretches. */
#define UNWIND_CACHE_ENTRIES 512u

struct unwind_cache_entry {
    uintptr_t pc; /* 0: empty */
    struct unwind_rule rule;
};

/* Where a walk stood at one frame: the state the next step starts from. */
struct walk_frame {
    uintptr_t stack;         /* the stack pointer in the frame (the CFA of the frame inside) */
    uintptr_t frame_pointer; /* rbp in the frame */
    uintptr_t pc;            /* the frame's return address (its code address, for the first) */
    uintptr_t frame_pointer_slot; /* where the walk read frame_pointer; 0: kept from inside */
};

/* The most frames a walk takes. */
#define UNWIND_WALK_FRAMES BACKTRACE_MAX_FRAMES

/* The thread's last walk, innermost frame first, and room for the next one: a walk that
 * reaches a frame where the last one stood, in the same state, replays the last walk from
 * there for as long as the words it read still hold what it read (see backtrace.c). */
struct walk_memo {
    struct walk_frame frames[2][UNWIND_WALK_FRAMES];
    uint32_t count[2];
    uint32_t last; /* which of the two is the last walk */
};

/* A thread's cache, in memory from mmap (its 25 KiB in static TLS would come out of every
 * thread's stack: a thread made with PTHREAD_STACK_MIN would overflow it). A thread that
 * exits hands its cache on to the next new thread. */
struct unwind_cache {
    struct unwind_cache_entry entries[UNWIND_CACHE_ENTRIES];
    struct walk_memo memo;
    unsigned generation;
    struct unwind_cache *next_spare;
};

/* Before a walk: the calling thread's cache, emptied (its walk memo too) if a library was
 * unloaded since it was last used, or the cache is new to the thread; NULL when there is no
 * memory for one (then walk with libunwind). */
struct unwind_cache *unwind_table_begin_walk(void);

/* After a capture by other means than a table walk: the calling thread's last walk no longer
 * tells what its last capture gave. */
void unwind_table_forget_walk(void);

/* unwind_table_find when the cache has no entry for pc: fills it. */
struct unwind_rule unwind_table_find_uncached(struct unwind_cache *cache, uintptr_t pc);

/* The low bits of the address alone: a walk is a chain of dependent loads, and a hash
 * that mixes in high bits would add its instructions to every link of it. */
static inline struct unwind_cache_entry *unwind_cache_entry_of(struct unwind_cache *cache,
                                                              uintptr_t pc)
{
    return &cache->entries[pc % UNWIND_CACHE_ENTRIES];
}

/* The rule that finds the caller of the frame executing at pc (for a frame above the
 * innermost, its return address less one). UNWIND_NOT_COVERED when nothing here covers pc:
 * no module, a module without .eh_frame, a rule the table cannot hold, no memory, or a
 * table another thread is building right now. By value: a walk's chain of dependent loads
 * is its cost, and a rule passed through memory would add a store and a load per frame. */
static inline struct unwind_rule unwind_table_find(struct unwind_cache *cache, uintptr_t pc)
{
    const struct unwind_cache_entry *entry = unwind_cache_entry_of(cache, pc);
    if (__builtin_expect(entry->pc != pc, 0))
        return unwind_table_find_uncached(cache, pc);
    return entry->rule;
}

/* Once, at start (makes the key whose destructor recycles an exiting thread's cache). */
void unwind_table_init(void);

/* In a child after fork: a table another thread of the parent was building stays unbuilt,
 * and the locks are free again. */
void unwind_table_after_fork_child(void);

/* After dlclose: drops the tables of unloaded modules, whose addresses another module may
 * take, and has every thread empty its cache. */
void unwind_table_forget_unloaded(void);

#endif
