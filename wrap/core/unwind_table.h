/* unwind_table.h: a compact unwind table per loaded module, built from its .eh_frame as
 * stacks pass through it (32 FDEs at a time where its .eh_frame_hdr lists them, else whole),
 * and the lookup of a frame's rule: a per-thread cache of recent code addresses first, then
 * binary searches in the module's table. */
#ifndef MALLOC_TRACE_UNWIND_TABLE_H
#define MALLOC_TRACE_UNWIND_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backtrace.h"
#include "eh_frame.h"

/* Direct-mapped, per thread: a program's allocation sites stay within a few thousand code
 * addresses for long stretches (sqlite's walks pass some two thousand: at 512 entries, two
 * walks in five missed one). */
#define UNWIND_CACHE_ENTRIES 2048u

struct unwind_cache_entry {
    uintptr_t pc; /* 0: empty */
    struct unwind_rule rule;
};

/* Where a walk stood at one frame: the state the next step starts from. */
struct walk_frame {
    uintptr_t stack;         /* the stack pointer in the frame (the CFA of the frame inside) */
    uintptr_t frame_pointer; /* rbp in the frame */
    uintptr_t pc;            /* the frame's return address (its code address, for the first) */
    /* Where the walk read frame_pointer (0: kept from the frame inside), the flags below in
     * its low bits (a slot is 8-aligned). */
    uintptr_t frame_pointer_slot;
};
/* The step into this frame took the CFA from the frame inside's rbp. */
#define WALK_FRAME_FROM_FP ((uintptr_t)1)
/* The frames after this one, as far as its walk went, depend on this frame's rbp: set after
 * the walk. The walk's last step (the one that found no caller) is not counted: a walk that
 * replays up to there takes it again, with its own rbp. */
#define WALK_FRAME_NEEDS_FP ((uintptr_t)2)
/* Both: the frame's rbp is needed, and was read from a slot (a replay checks the word there). */
#define WALK_FRAME_CHECK_FP ((uintptr_t)4)
#define WALK_FRAME_FLAGS (WALK_FRAME_FROM_FP | WALK_FRAME_NEEDS_FP | WALK_FRAME_CHECK_FP)

/* Call sites whose last walks a thread keeps, and how many walks each. */
#define WALK_MEMO_SITE_BITS 6u
#define WALK_MEMO_SITES (1u << WALK_MEMO_SITE_BITS)
#define WALK_MEMO_WAYS 4u
#define WALK_MEMO_BUFFERS (WALK_MEMO_SITES * WALK_MEMO_WAYS + 1)

/* The thread's last walks from each of a few call sites (picked by the program's return
 * address and stack pointer), innermost frame first, and room for the next one: a walk that
 * reaches a frame where one of the walks from its site stood, in the same state, replays that
 * walk from there for as long as the words it read still hold what it read (see
 * backtrace.c). One memo for all sites was replayed only from where the last walk's call
 * path met this one's: programs that allocate at a few places in turn (xmllint's parser,
 * jq's values) stepped every frame below that point, and looked up every stack. One walk a
 * site was not enough either: sqlite3 and python3 call their allocator from a few paths in
 * turn, and a quarter to a third of their walks had the stack of an earlier walk than the
 * last one from their site (stepping 7 to 10 frames each). */
struct walk_memo {
    struct walk_frame *buffers;  /* WALK_MEMO_BUFFERS of frames_each, after the cache */
    uint32_t frames_each;        /* the most frames a walk takes (unwind_table_init) */
    uint32_t count[WALK_MEMO_BUFFERS]; /* by buffer */
    /* What the caller keeps with each buffer's walk: the stack id is set to 0 whenever the
     * walk in the buffer is not exactly the one it stood for. */
    struct backtrace_kept kept[WALK_MEMO_BUFFERS];
    uint16_t ways[WALK_MEMO_SITES][WALK_MEMO_WAYS]; /* each site's buffers, latest walk first */
    uint16_t spare;                                 /* the buffer the next walk is written in */
};

static inline struct walk_frame *walk_memo_buffer(const struct walk_memo *memo, unsigned buffer)
{
    return memo->buffers + (size_t)buffer * memo->frames_each;
}

/* A thread's cache, in memory from mmap (in static TLS it would come out of every thread's
 * stack: a thread made with PTHREAD_STACK_MIN would overflow it), its walk memo's buffers
 * after it; their pages are touched only as far as walks go. A thread that exits hands its
 * cache on to the next new thread. */
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
 * table (or a chunk of one) another thread is building right now. By value: a walk's chain
 * of dependent loads is its cost, and a rule passed through memory would add a store and a
 * load per frame. */
static inline struct unwind_rule unwind_table_find(struct unwind_cache *cache, uintptr_t pc)
{
    const struct unwind_cache_entry *entry = unwind_cache_entry_of(cache, pc);
    if (__builtin_expect(entry->pc != pc, 0))
        return unwind_table_find_uncached(cache, pc);
    return entry->rule;
}

struct dl_find_object;

/* Whether glibc's lock-free _dl_find_object finds no module holding address (false without
 * it). */
bool unwind_table_in_no_module(const void *address);

struct link_map;
/* The loaded module that holds address, by _dl_find_object, which neither allocates nor
 * locks; NULL where none does (or without it). */
const struct link_map *unwind_table_module_of(const void *address);

/* What glibc's lock-free _dl_find_object says of the executable; false without it. */
bool unwind_table_find_executable(struct dl_find_object *found);

/* The executable's .eh_frame when it has no .eh_frame_hdr (a `gcc -static` link), as its
 * file places it; false when it has one, or the file cannot say. */
bool unwind_table_unindexed_executable_eh_frame(uintptr_t *start, uintptr_t *end);

/* Once, at start: walks take at most walk_frames frames (makes the key whose destructor
 * recycles an exiting thread's cache). */
void unwind_table_init(uint32_t walk_frames);

/* In a child after fork: a table another thread of the parent was building stays unbuilt,
 * and the locks are free again. */
void unwind_table_after_fork_child(void);

/* After dlclose: drops the tables of unloaded modules, whose addresses another module may
 * take, and has every thread empty its cache. */
void unwind_table_forget_unloaded(void);

#endif
