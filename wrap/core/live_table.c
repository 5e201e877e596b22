/* live_table.c: open addressing with linear probing and backward-shift deletion, per
 * shard; slots and queues come from mmap, never from the allocator being traced. */
#include "live_table.h"

#include <stdatomic.h>
#include <string.h>

#include "os.h"
#include "spin_lock.h"

/* Shards come in groups, a group per region of 64 MiB of addresses (glibc's HEAP_MAX_SIZE:
 * the heaps of a thread's arena are regions of that size, aligned to it), and the blocks of
 * one region are spread over its group by their hash. A thread mostly frees what it
 * allocated, from its own arena: so two threads on different arenas take different locks
 * and probe different slots. With shards picked by the hash alone, every malloc and free on
 * 2 threads moved a lock's and a slot's cache line from the other core (+130 ns per pair,
 * half the tracer's cost). Consecutive regions go to consecutive groups: glibc maps each new
 * arena a region or two below the last, so 16 arenas (its limit on 2 cores) share no group.
 * Several shards per region keep what holds one lock for long (a growth, a flush pass over
 * the shard) short. */
#define REGION_SHIFT 26
#define GROUP_BITS 5
#define SHARDS_PER_GROUP_BITS 4
#define SHARD_COUNT (1u << (GROUP_BITS + SHARDS_PER_GROUP_BITS))
/* Slots of a shard at its first block (2 KiB): a block mapped on its own (a large one) may be
 * the only one of its region, and so of its shard. */
#define INITIAL_CAPACITY 64u

struct shard {
    struct spin_lock lock;
    struct live_block *slots;
    size_t capacity; /* a power of two, or 0 before the first insert */
    size_t count;
    struct event_log queued;
    atomic_size_t queued_hint;
} __attribute__((aligned(64)));

/* Zero-initialized: every lock released, no slots. */
static struct shard shards[SHARD_COUNT];
static atomic_bool out_of_memory_said;

/* The hash of a block's 4 KiB page (Fibonacci hashing): its top bits pick the shard within
 * the region's group, its middle bits where the page's slots begin (home_slot). */
static uint64_t mix(uintptr_t address)
{
    return (uint64_t)(address >> 12) * 0x9e3779b97f4a7c15ull;
}

static struct shard *shard_of(uintptr_t address, uint64_t hash)
{
    size_t group = (address >> REGION_SHIFT) & ((1u << GROUP_BITS) - 1);
    size_t member = (size_t)(hash >> (64 - SHARDS_PER_GROUP_BITS));
    return &shards[group << SHARDS_PER_GROUP_BITS | member];
}

static void say_out_of_memory(void)
{
    if (!atomic_exchange(&out_of_memory_said, true))
        os_message("out of memory for the tracer's own tables: some blocks are not traced");
}

/* The blocks of a page go to a run of 256 slots, one for each 16-byte step of the page, in
 * address order: glibc hands out neighbouring addresses one after the other, and programs
 * free them in much the same order, so a malloc or free mostly finds its slot in a line the
 * one before it brought into the cache. With every block hashed on its own, a table of
 * millions of blocks missed the cache and the TLB on nearly every malloc and free (xmllint:
 * half the tracer's time). No two blocks of a page share a home (a run of 64 slots, one per
 * 64 bytes, made pages of 32-byte chunks probe 30 slots a look-up); a page's place is its
 * hash, so blocks a page or more apart (large ones, or strided) still spread over the whole
 * table. */
static size_t home_slot(size_t capacity, uintptr_t address, uint64_t hash)
{
    return (size_t)((hash >> 20) + ((address >> 4) & 255)) & (capacity - 1);
}

static bool grow(struct shard *shard)
{
    size_t capacity = shard->capacity ? shard->capacity * 2 : INITIAL_CAPACITY;
    /* The rehash below writes into every page of the new slots: back them in one go. */
    struct live_block *slots = os_map_populated(capacity * sizeof *slots);
    if (slots == NULL)
        return false;
    struct live_block *old = shard->slots;
    size_t old_capacity = shard->capacity;
    /* Atomic for live_table_prefetch, which reads them without the lock. */
    __atomic_store_n(&shard->slots, slots, __ATOMIC_RELAXED);
    __atomic_store_n(&shard->capacity, capacity, __ATOMIC_RELAXED);
    for (size_t i = 0; i < old_capacity; i++) {
        if (old[i].address == 0)
            continue;
        size_t slot = home_slot(capacity, old[i].address, mix(old[i].address));
        while (slots[slot].address != 0)
            slot = (slot + 1) & (capacity - 1);
        slots[slot] = old[i];
    }
    os_unmap(old, old_capacity * sizeof *old);
    return true;
}

/* The slot holding address, or the empty slot where it would go. */
static size_t find_slot(const struct shard *shard, uintptr_t address, uint64_t hash)
{
    size_t slot = home_slot(shard->capacity, address, hash);
    while (shard->slots[slot].address != 0 && shard->slots[slot].address != address)
        slot = (slot + 1) & (shard->capacity - 1);
    return slot;
}

void live_table_prefetch(uintptr_t address)
{
    uint64_t hash = mix(address);
    const struct shard *shard = shard_of(address, hash);
    /* A growth may pair new slots with the old capacity or the other way round: the line is
     * then a wrong one, maybe unmapped, which a prefetch reads without a fault. */
    struct live_block *slots = __atomic_load_n(&shard->slots, __ATOMIC_RELAXED);
    size_t capacity = __atomic_load_n(&shard->capacity, __ATOMIC_RELAXED);
    if (capacity != 0)
        __builtin_prefetch(&slots[home_slot(capacity, address, hash)], 1);
}

void live_table_insert(const struct live_block *block)
{
    uint64_t hash = mix(block->address);
    struct shard *shard = shard_of(block->address, hash);
    spin_lock_take(&shard->lock);
    if ((shard->count + 1) * 4 > shard->capacity * 3 && !grow(shard)) {
        spin_lock_release(&shard->lock);
        say_out_of_memory();
        return;
    }
    size_t slot = find_slot(shard, block->address, hash);
    if (shard->slots[slot].address == 0)
        shard->count++;
    shard->slots[slot] = *block;
    spin_lock_release(&shard->lock);
}

/* Backward-shift deletion: later members of the probe run move up, so lookups never need
 * tombstones. */
static void delete_slot(struct shard *shard, size_t hole)
{
    size_t mask = shard->capacity - 1;
    size_t slot = hole;
    for (;;) {
        slot = (slot + 1) & mask;
        if (shard->slots[slot].address == 0)
            break;
        uintptr_t moving = shard->slots[slot].address;
        size_t home = home_slot(shard->capacity, moving, mix(moving));
        /* Move the entry into the hole unless its home lies cyclically in (hole, slot]. */
        bool home_after_hole = hole <= slot ? (hole < home && home <= slot)
                                            : (hole < home || home <= slot);
        if (!home_after_hole) {
            shard->slots[hole] = shard->slots[slot];
            hole = slot;
        }
    }
    shard->slots[hole].address = 0;
    shard->count--;
}

/* The shard of address, with the block's slot in *slot, or SIZE_MAX when the shard does not
 * hold it; the caller holds the shard's lock. */
static struct shard *find_locked(uintptr_t address, size_t *slot)
{
    uint64_t hash = mix(address);
    struct shard *shard = shard_of(address, hash);
    *slot = SIZE_MAX;
    if (shard->capacity != 0) {
        size_t found = find_slot(shard, address, hash);
        if (shard->slots[found].address == address)
            *slot = found;
    }
    return shard;
}

/* Locks the shard of address and finds the block (see find_locked). */
static struct shard *lock_and_find(uintptr_t address, size_t *slot)
{
    struct shard *shard = shard_of(address, mix(address));
    spin_lock_take(&shard->lock);
    return find_locked(address, slot);
}

bool live_table_take(uintptr_t address, struct live_block *out)
{
    size_t slot;
    struct shard *shard = lock_and_find(address, &slot);
    if (slot != SIZE_MAX) {
        *out = shard->slots[slot];
        delete_slot(shard, slot);
    }
    spin_lock_release(&shard->lock);
    return slot != SIZE_MAX;
}

bool live_table_resize(uintptr_t address, uint64_t size)
{
    size_t slot;
    struct shard *shard = lock_and_find(address, &slot);
    if (slot != SIZE_MAX)
        shard->slots[slot].size = size;
    spin_lock_release(&shard->lock);
    return slot != SIZE_MAX;
}

bool live_table_add_flags(uintptr_t address, uint8_t flags)
{
    size_t slot;
    struct shard *shard = lock_and_find(address, &slot);
    if (slot != SIZE_MAX)
        shard->slots[slot].flags |= flags;
    spin_lock_release(&shard->lock);
    return slot != SIZE_MAX;
}

size_t live_table_count_locked(void)
{
    size_t total = 0;
    for (unsigned i = 0; i < SHARD_COUNT; i++)
        total += shards[i].count;
    return total;
}

size_t live_table_copy_locked(struct live_block *out, size_t max)
{
    size_t copied = 0;
    for (unsigned i = 0; i < SHARD_COUNT; i++) {
        const struct shard *shard = &shards[i];
        for (size_t slot = 0; slot < shard->capacity && copied < max; slot++)
            if (shard->slots[slot].address != 0)
                out[copied++] = shard->slots[slot];
    }
    return copied;
}

void live_table_add_flags_locked(uintptr_t address, uint8_t flags)
{
    size_t slot;
    struct shard *shard = find_locked(address, &slot);
    if (slot != SIZE_MAX)
        shard->slots[slot].flags |= flags;
}

size_t live_table_queue_event(const struct trace_event *event)
{
    struct shard *shard = shard_of(event->address, mix(event->address));
    spin_lock_take(&shard->lock);
    bool queued = event_log_push(&shard->queued, event);
    size_t count = shard->queued.count;
    atomic_store_explicit(&shard->queued_hint, count, memory_order_relaxed);
    spin_lock_release(&shard->lock);
    if (!queued)
        say_out_of_memory();
    return count;
}

size_t live_table_count(void)
{
    size_t total = 0;
    for (unsigned i = 0; i < SHARD_COUNT; i++) {
        spin_lock_take(&shards[i].lock);
        total += shards[i].count;
        spin_lock_release(&shards[i].lock);
    }
    return total;
}

static void collect_shard(struct shard *shard, enum live_table_pass pass, uint64_t now_ms,
                          uint64_t min_age_ms, struct event_log *out)
{
    if (!event_log_move_all(out, &shard->queued))
        say_out_of_memory();
    atomic_store_explicit(&shard->queued_hint, shard->queued.count, memory_order_relaxed);
    if (pass == PASS_FREE_ROWS)
        return;
    for (size_t i = 0; i < shard->capacity; i++) {
        struct live_block *block = &shard->slots[i];
        if (block->address == 0 || (block->flags & (BLOCK_IGNORED | BLOCK_WRITTEN_AT_EXIT)))
            continue;
        enum event_kind kind;
        if (pass == PASS_EXIT) {
            kind = EVENT_LEAK;
        } else {
            if ((block->flags & BLOCK_WRITTEN_AS_MALLOC) || now_ms < block->time_ms
                || now_ms - block->time_ms < min_age_ms)
                continue;
            kind = EVENT_MALLOC;
        }
        struct trace_event event = event_of_block(block, kind);
        if (!event_log_push(out, &event)) {
            say_out_of_memory();
            return;
        }
        block->flags |= pass == PASS_EXIT ? BLOCK_WRITTEN_AT_EXIT : BLOCK_WRITTEN_AS_MALLOC;
    }
}

void live_table_collect(enum live_table_pass pass, uint64_t now_ms, uint64_t min_age_ms,
                        struct event_log *out)
{
    for (unsigned i = 0; i < SHARD_COUNT; i++) {
        spin_lock_take(&shards[i].lock);
        collect_shard(&shards[i], pass, now_ms, min_age_ms, out);
        spin_lock_release(&shards[i].lock);
    }
}

void live_table_lock_all(void)
{
    for (unsigned i = 0; i < SHARD_COUNT; i++)
        spin_lock_take(&shards[i].lock);
}

void live_table_unlock_all(void)
{
    for (unsigned i = SHARD_COUNT; i-- > 0;)
        spin_lock_release(&shards[i].lock);
}

void live_table_reset_in_child(void)
{
    for (unsigned i = 0; i < SHARD_COUNT; i++) {
        spin_lock_reset(&shards[i].lock);
        shards[i].queued.count = 0;
        atomic_store_explicit(&shards[i].queued_hint, 0, memory_order_relaxed);
    }
}
