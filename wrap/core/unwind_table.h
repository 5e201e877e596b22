/* unwind_table.h: a compact unwind table per loaded module, built from its .eh_frame the
 * first time a stack passes through it, and the lookup of a frame's rule: a per-thread
 * cache of recent code addresses first, then a binary search in the module's table. */
#ifndef MALLOC_TRACE_UNWIND_TABLE_H
#define MALLOC_TRACE_UNWIND_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "eh_frame.h"

/* Direct-mapped, per thread: a program's allocation sites stay within a few hundred code
 * addresses for long stretches. */
#define UNWIND_CACHE_ENTRIES 512u

struct unwind_cache_entry {
    uintptr_t pc; /* 0: empty */
    struct unwind_rule rule;
};

/* The calling thread's cache, in static TLS: a look-up that hits costs a few loads. */
extern __thread struct unwind_cache_entry unwind_cache[UNWIND_CACHE_ENTRIES]
    __attribute__((tls_model("initial-exec")));

/* Before a walk: empties the calling thread's cache if a library was unloaded since. */
void unwind_table_begin_walk(void);

/* unwind_table_find when the cache has no entry for pc: fills it. */
struct unwind_rule unwind_table_find_uncached(uintptr_t pc);

/* The low bits of the address alone: a walk is a chain of dependent loads, and a hash
 * that mixes in high bits would add its instructions to every link of it. */
static inline struct unwind_cache_entry *unwind_cache_entry_of(uintptr_t pc)
{
    return &unwind_cache[pc % UNWIND_CACHE_ENTRIES];
}

/* The rule that finds the caller of the frame executing at pc (for a frame above the
 * innermost, its return address less one). UNWIND_NOT_COVERED when nothing here covers pc:
 * no module, a module without .eh_frame, a rule the table cannot hold, no memory, or a
 * table another thread is building right now. By value: a walk's chain of dependent loads
 * is its cost, and a rule passed through memory would add a store and a load per frame. */
static inline struct unwind_rule unwind_table_find(uintptr_t pc)
{
    const struct unwind_cache_entry *entry = unwind_cache_entry_of(pc);
    if (__builtin_expect(entry->pc != pc, 0))
        return unwind_table_find_uncached(pc);
    return entry->rule;
}

/* In a child after fork: a table another thread of the parent was building stays unbuilt,
 * and its lock is free again. */
void unwind_table_after_fork_child(void);

/* After dlclose: drops the tables of unloaded modules, whose addresses another module may
 * take, and has every thread empty its cache. */
void unwind_table_forget_unloaded(void);

#endif
