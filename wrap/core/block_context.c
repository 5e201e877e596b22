/* block_context.c: contexts live in one reserved address range, in id order; an index (open
 * addressing over ids) finds the id of a context from its fields. Most mallocs find theirs
 * with no lock: in a small cache of the thread's last ids, or else from a hint kept per
 * stack (a stack is mostly one thread's). */
#include "block_context.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "os.h"
#include "spin_lock.h"

#define REGION_WANTED ((size_t)4 << 30)
#define COMMIT_CHUNK ((size_t)1 << 20)
#define INITIAL_INDEX_CAPACITY 1024u
#define HINT_BITS 16
/* Renumbering pays when the contexts have doubled since the last one, and not below this
 * many, or when an addition failed for want of memory. */
#define CONTEXTS_BEFORE_RENUMBERING 65536u
/* Small: static TLS comes out of every thread's stack, and a program may ask for 16 KiB. */
#define CACHE_SIZE 16u

/* What every intern reads: written by additions (under adding.lock) and renumberings (with
 * every shard lock held). */
static struct block_context *contexts;
static _Atomic uint32_t count;
/* The id of the last context of the stacks whose hash falls on each: a hint, checked before
 * use. Mapped, not static: the leak scan reads the tracer's data as roots, and two ids side
 * by side can read as a pointer to a block. */
static _Atomic uint32_t *_Atomic hints;
/* Changed by each renumbering, which makes every thread's cache stale at once. Read and
 * written with shard locks held (block_context.h), so without atomics. */
static uint32_t generation = 1;

/* What an addition writes, in lines of its own: an addition must not take the line that
 * every intern reads from the other threads. */
static struct {
    struct spin_lock lock;
    atomic_bool failed; /* an addition failed for want of memory since the last renumbering */
    size_t region_size, region_committed;
    uint32_t *index_slots; /* id + 1; 0 is an empty slot */
    size_t index_capacity; /* a power of two, at least twice count */
    uint32_t kept;         /* by the last renumbering; read and written by the flusher */
    size_t renumbering_size;
} __attribute__((aligned(64))) adding;

struct cached_context {
    struct block_context context;
    uint32_t id;
    uint32_t generation; /* 0: empty */
};
static __thread struct cached_context cache[CACHE_SIZE] __attribute__((tls_model("initial-exec")));

static uint32_t hash_context(const struct block_context *context)
{
    uint64_t hash = ((uint64_t)context->stack_id << 32 | (uint32_t)context->thread_id)
                    * 0x9e3779b97f4a7c15ull;
    hash ^= ((uint64_t)context->time_epoch << 8 | context->entry_point) * 0xc2b2ae3d27d4eb4full;
    hash ^= hash >> 31;
    return (uint32_t)(hash >> 32);
}

static bool same_context(const struct block_context *a, const struct block_context *b)
{
    return a->stack_id == b->stack_id && a->thread_id == b->thread_id
           && a->time_epoch == b->time_epoch && a->entry_point == b->entry_point;
}

static void index_add(uint32_t id)
{
    size_t slot = hash_context(&contexts[id]) & (adding.index_capacity - 1);
    while (adding.index_slots[slot] != 0)
        slot = (slot + 1) & (adding.index_capacity - 1);
    adding.index_slots[slot] = id + 1;
}

/* A new index of capacity slots holding every context. Called with the lock. */
static bool build_index(size_t capacity)
{
    uint32_t *slots = os_map(capacity * sizeof *slots);
    if (slots == NULL)
        return false;
    os_unmap(adding.index_slots, adding.index_capacity * sizeof *adding.index_slots);
    adding.index_slots = slots;
    adding.index_capacity = capacity;
    uint32_t held = atomic_load_explicit(&count, memory_order_relaxed);
    for (uint32_t id = 0; id < held; id++)
        index_add(id);
    return true;
}

/* Room in the region for the context of id. Called with the lock. */
static bool room_for(uint32_t id)
{
    if (contexts == NULL) {
        _Atomic uint32_t *all_hints = os_map(sizeof *all_hints << HINT_BITS);
        adding.region_size = REGION_WANTED;
        contexts = all_hints ? os_reserve(&adding.region_size) : NULL;
        if (contexts == NULL) {
            os_unmap((void *)all_hints, sizeof *all_hints << HINT_BITS);
            return false;
        }
        atomic_store_explicit(&hints, all_hints, memory_order_release);
    }
    size_t end = ((size_t)id + 1) * sizeof *contexts;
    while (adding.region_committed < end) {
        if (adding.region_committed + COMMIT_CHUNK > adding.region_size
            || !os_commit((char *)contexts + adding.region_committed, COMMIT_CHUNK))
            return false;
        adding.region_committed += COMMIT_CHUNK;
    }
    return true;
}

static uint32_t add(const struct block_context *context)
{
    uint32_t id = atomic_load_explicit(&count, memory_order_relaxed);
    if (id == BLOCK_CONTEXT_NONE || !room_for(id))
        return BLOCK_CONTEXT_NONE;
    if (((size_t)id + 1) * 2 > adding.index_capacity
        && !build_index(adding.index_capacity ? adding.index_capacity * 2 : INITIAL_INDEX_CAPACITY))
        return BLOCK_CONTEXT_NONE;
    contexts[id] = *context;
    /* Release: a hint below count is read with no lock. */
    atomic_store_explicit(&count, id + 1, memory_order_release);
    index_add(id);
    return id;
}

static uint32_t find_or_add(const struct block_context *context, uint32_t hash)
{
    size_t mask = adding.index_capacity - 1;
    for (size_t slot = hash & mask; adding.index_capacity != 0 && adding.index_slots[slot] != 0;
         slot = (slot + 1) & mask)
        if (same_context(&contexts[adding.index_slots[slot] - 1], context))
            return adding.index_slots[slot] - 1;
    uint32_t id = add(context);
    if (id == BLOCK_CONTEXT_NONE)
        atomic_store_explicit(&adding.failed, true, memory_order_relaxed);
    return id;
}

/* block_context_intern without a hint of the caller's. */
static uint32_t intern(const struct block_context *context)
{
    uint32_t hash = hash_context(context);
    struct cached_context *cached = &cache[hash & (CACHE_SIZE - 1)];
    if (cached->generation == generation && same_context(&cached->context, context))
        return cached->id;
    /* Contexts below count are complete, and no other thread moves them: renumbering holds
     * every shard lock, the caller one. */
    _Atomic uint32_t *all_hints = atomic_load_explicit(&hints, memory_order_acquire);
    _Atomic uint32_t *hint = NULL;
    uint32_t id = BLOCK_CONTEXT_NONE;
    if (all_hints != NULL) {
        hint = &all_hints[(uint32_t)(context->stack_id * 0x9e3779b9u) >> (32 - HINT_BITS)];
        id = atomic_load_explicit(hint, memory_order_relaxed);
    }
    if (id >= atomic_load_explicit(&count, memory_order_acquire)
        || !same_context(&contexts[id], context)) {
        spin_lock_take(&adding.lock);
        id = find_or_add(context, hash);
        spin_lock_release(&adding.lock);
        if (id == BLOCK_CONTEXT_NONE)
            return id;
        /* Only after a look-up: threads that allocate from one place each find theirs in
         * their own cache, and do not take turns at the hint's line. */
        if (hint != NULL)
            atomic_store_explicit(hint, id, memory_order_relaxed);
    }
    *cached = (struct cached_context){*context, id, generation};
    return id;
}

/* A hint kept per stack (with its walk) finds the context where the thread's small cache is
 * too small for the sites a program allocates at in turn: it missed one look-up in two on
 * sqlite3, one in three on python3. Ids below count are complete contexts, and stay so while
 * the caller holds its shard lock (renumbering holds them all). */
uint32_t block_context_intern(const struct block_context *context, uint32_t *hint)
{
    if (hint != NULL && *hint < atomic_load_explicit(&count, memory_order_acquire)
        && same_context(&contexts[*hint], context))
        return *hint;
    uint32_t id = intern(context);
    if (hint != NULL && id != BLOCK_CONTEXT_NONE)
        *hint = id;
    return id;
}

const struct block_context *block_context_of(uint32_t id)
{
    return &contexts[id];
}

uint32_t block_context_count(void)
{
    return atomic_load_explicit(&count, memory_order_relaxed);
}

bool block_context_renumbering_pays(void)
{
    uint32_t held = block_context_count();
    return (held > CONTEXTS_BEFORE_RENUMBERING && held / 2 > adding.kept)
           || atomic_load_explicit(&adding.failed, memory_order_relaxed);
}

void block_context_fit_reservation(void)
{
    spin_lock_take(&adding.lock);
    os_fit_reservation(contexts, &adding.region_size, adding.region_committed, REGION_WANTED);
    spin_lock_release(&adding.lock);
}

uint32_t *block_context_renumber_begin(void)
{
    adding.renumbering_size = ((size_t)block_context_count() + 1) * sizeof(uint32_t);
    return os_map(adding.renumbering_size);
}

void block_context_renumber(uint32_t *used)
{
    uint32_t held = block_context_count(), kept = 0;
    for (uint32_t id = 0; id < held; id++) {
        if (used[id]) {
            contexts[kept] = contexts[id];
            used[id] = kept++;
        }
    }
    atomic_store_explicit(&count, kept, memory_order_relaxed);
    /* The memory of the contexts dropped goes back to the kernel (a program that started
     * threads by the thousand in a burst must not keep their contexts' pages): no one reads
     * an id at or above count, and no intern runs meanwhile (every shard lock is held). */
    size_t needed = ((size_t)kept * sizeof *contexts + COMMIT_CHUNK - 1) / COMMIT_CHUNK
                    * COMMIT_CHUNK;
    if (needed < adding.region_committed) {
        os_decommit((char *)contexts + needed, adding.region_committed - needed);
        adding.region_committed = needed;
    }
    /* The index gets smaller when it is four times the size the ids left need, else it is
     * emptied and filled again. */
    size_t index_capacity = INITIAL_INDEX_CAPACITY;
    while (index_capacity < (size_t)kept * 2)
        index_capacity *= 2;
    if (index_capacity * 4 > adding.index_capacity || !build_index(index_capacity)) {
        for (size_t slot = 0; slot < adding.index_capacity; slot++)
            adding.index_slots[slot] = 0;
        for (uint32_t id = 0; id < kept; id++)
            index_add(id);
    }
    generation = generation == UINT32_MAX ? 1 : generation + 1; /* 0: an empty cache entry */
    adding.kept = kept;
    atomic_store_explicit(&adding.failed, false, memory_order_relaxed);
}

void block_context_renumber_end(uint32_t *used)
{
    os_unmap(used, adding.renumbering_size);
}
