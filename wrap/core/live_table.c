/* live_table.c: open addressing with linear probing and backward-shift deletion, per
 * shard; slots and queues come from mmap, never from the allocator being traced. */
#include "live_table.h"

#include <stdatomic.h>
#include <time.h>

#include "block_context.h"
#include "os.h"
#include "spin_lock.h"
#include "thread_slots.h"

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
/* Capacities are multiples of a page of slots, which the shard commits as it grows. A shard
 * grows by two fifths when it passes 17/20 full, so its slots are 61% to 85% full: doubling
 * at 3/4 left them 38% to 75% full. Each block is moved about 3 times by growths in its life
 * instead of once; in place (see grow), a move costs 12 to 14 ns (perf of rehash_into on
 * xmllint and jq, most of it the probes' misses in the new slots). Growing by a quarter at
 * 4/5 (64% to 80% full) moved each block 4 times, 4% to 7% of their traced runs: xmllint
 * 23.9 million moves, now 13.7; jq 21.0, now 13.3; for a few more probes a look-up, and less
 * memory at xmllint's peak (1.19 times the untraced run's, now 1.16). The first capacity is
 * a run of home slots (256, see home_slot), one page: a block mapped on its own (a large
 * one) may be the only one of its region, and so of its shard. */
#define SLOTS_PER_PAGE (4096 / sizeof(struct slot))
/* A shard's slots lie at the start of a reservation of address space this many times their
 * size (inaccessible until used), at least MIN_RESERVATION: it grows into it in place. */
#define RESERVATION_FACTOR 4u
#define MIN_RESERVATION ((size_t)1 << 20)
#define INITIAL_CAPACITY 256u
#define MAX_LOAD_NUMERATOR 17u
#define MAX_LOAD_DENOMINATOR 20u
/* Below this many slots (256 KiB), a shard grows when it passes half full instead. A small
 * shard's blocks come from a few pages, and each page's blocks go to one run of slots
 * (home_slot): at 17/20 full, the runs of a few dense pages met in clusters of hundreds of
 * slots, which every insert there probed to the end. In a traced python3 run, 0.7% of the
 * look-ups probed 64 slots or more, and made two thirds of all the probes; half full took the
 * mean from 2.1 probes a look-up to 1.0, and the tracer's share of the run from 34.8% to
 * 33.3% (perf). It costs a shard at most about 100 KiB more, and a table of millions of
 * blocks (xmllint's) none at its peak: its shards are all larger by then. */
#define SMALL_SHARD_SLOTS 16384u

/* A live block in 16 bytes, four to a cache line. Blocks of 32 bytes in tables that doubled
 * took 60 bytes a block at xmllint's peak (5.5 million blocks), half again its own heap; now
 * they take 22. The address is a multiple of 8 below 2^48 (every allocator's, on 64-bit Linux
 * without 5-level page hints), so 45 bits hold it; 19 bits hold sizes below 512 KiB; what the
 * blocks of one place share is a context (block_context.h): 32 bits of id, with the low 29
 * bits of the time beside it. A block that does not fit is spilled: kept whole in its
 * shard's spill list, which only large blocks (mapped on their own by glibc) reach. */
struct slot {
    uint64_t address_size; /* address >> 3 in the low ADDRESS_BITS (0: empty), the size above */
    uint64_t context_time; /* the flags, then the time's low bits, then the context id */
};
#define ADDRESS_BITS 45
#define ADDRESS_MASK ((1ull << ADDRESS_BITS) - 1)
#define SIZE_LIMIT (1ull << (64 - ADDRESS_BITS))
#define FLAG_BITS 3
#define FLAG_MASK ((1ull << FLAG_BITS) - 1)
#define TIME_MASK ((1ull << BLOCK_CONTEXT_EPOCH_SHIFT) - 1)
_Static_assert(FLAG_BITS + BLOCK_CONTEXT_EPOCH_SHIFT == 32, "flags and time share 32 bits");
_Static_assert(BLOCK_IGNORED <= FLAG_MASK && BLOCK_WRITTEN_AT_EXIT <= FLAG_MASK
                   && BLOCK_WRITTEN_AS_MALLOC <= FLAG_MASK,
               "every flag fits");

struct shard {
    struct spin_lock lock;
    struct slot *slots; /* the start of the shard's reservation, from its first insert */
    size_t reserved;    /* bytes of it */
    size_t capacity;    /* a multiple of SLOTS_PER_PAGE, or 0 before the first insert */
    size_t count;    /* in slots, the spilled not counted */
    struct live_block *spilled;
    uint32_t spilled_count, spilled_capacity;
    struct event_log queued;
    atomic_size_t queued_hint;
} __attribute__((aligned(64)));

/* Zero-initialized: every lock released, no slots. */
static struct shard shards[SHARD_COUNT];
static atomic_bool out_of_memory_said;

/* A free of a block written as `malloc` removes it under its shard's lock, and queues its
 * late `free` row under it again, after taking the free's stack: a leak scan that copies the
 * table in between sees neither the block nor the row, and the row queued after the scan
 * came after the exit rows, or never (at exit). So the thread's record says that a row is on
 * its way, and since which scan; a scan bumps the count with every shard locked, waits for
 * the rows on their way since before, which go to late_rows, and writes them first. */
static _Atomic unsigned scans;
static struct {
    struct spin_lock lock;
    struct event_log rows;
} late_rows __attribute__((aligned(64)));

/* The hash of a block's 4 KiB page (Fibonacci hashing): its top bits pick the shard within
 * the region's group, its next 32 bits where the page's slots begin (home_slot). */
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
        os_message("out of memory for the tracer's own tables: some blocks are not traced, "
                   "and frees of addresses not held are no longer written");
}

bool live_table_lost_blocks(void)
{
    return atomic_load_explicit(&out_of_memory_said, memory_order_relaxed);
}

/* ---- slots ---------------------------------------------------------------------------- */

static bool fits_a_slot(uintptr_t address)
{
    return address != 0 && (address & 7) == 0 && address >> (ADDRESS_BITS + 3) == 0;
}

static uintptr_t address_of(const struct slot *slot)
{
    return (uintptr_t)(slot->address_size & ADDRESS_MASK) << 3;
}

enum packing { PACKED, DOES_NOT_FIT, NO_CONTEXT };

/* The slot of block into *out. Called with its shard's lock (block_context.h). */
static enum packing pack(const struct live_block *block, struct slot *out, uint32_t *context_hint)
{
    if (!fits_a_slot(block->address) || block->size >= SIZE_LIMIT)
        return DOES_NOT_FIT;
    struct block_context context = {
        .stack_id = block->stack_id,
        .thread_id = block->thread_id,
        .time_epoch = (uint32_t)(block->time_ms >> BLOCK_CONTEXT_EPOCH_SHIFT),
        .entry_point = block->entry_point,
    };
    uint32_t id = block_context_intern(&context, context_hint);
    if (id == BLOCK_CONTEXT_NONE)
        return NO_CONTEXT;
    out->address_size = block->address >> 3 | block->size << ADDRESS_BITS;
    out->context_time = (uint64_t)id << 32 | (block->time_ms & TIME_MASK) << FLAG_BITS
                        | block->flags;
    return PACKED;
}

static struct live_block unpack(const struct slot *slot)
{
    const struct block_context *context = block_context_of((uint32_t)(slot->context_time >> 32));
    struct live_block block = {
        .address = address_of(slot),
        .size = slot->address_size >> ADDRESS_BITS,
        .time_ms = (uint64_t)context->time_epoch << BLOCK_CONTEXT_EPOCH_SHIFT
                   | (slot->context_time >> FLAG_BITS & TIME_MASK),
        .entry_point = context->entry_point,
        .flags = slot->context_time & FLAG_MASK,
        .stack_id = context->stack_id,
        .thread_id = context->thread_id,
    };
    return block;
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
    /* The page's place scales 32 bits of its hash to [0, capacity), with no division. */
    size_t place = (size_t)(((hash >> 28 & 0xffffffffu) * capacity) >> 32);
    size_t home = place + ((address >> 4) & 255);
    return home >= capacity ? home - capacity : home;
}

static size_t next_slot(size_t capacity, size_t slot)
{
    return slot + 1 == capacity ? 0 : slot + 1;
}

/* Slots to copy a shard's into while it grows in place: kept, so that its pages are warm. */
static struct {
    struct spin_lock lock; /* taken with a shard's lock held, or (scratch_release) alone */
    struct slot *slots;
    size_t capacity;
} scratch __attribute__((aligned(64)));

static bool scratch_hold(size_t capacity)
{
    if (scratch.capacity >= capacity)
        return true;
    struct slot *slots = os_map_populated(capacity * sizeof *slots);
    if (slots == NULL)
        return false;
    os_unmap(scratch.slots, scratch.capacity * sizeof *slots);
    scratch.slots = slots;
    scratch.capacity = capacity;
    return true;
}

/* Puts the count blocks of from (empty slots skipped) into slots, empty, of capacity. */
static void rehash_into(struct slot *slots, size_t capacity, const struct slot *from, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (from[i].address_size == 0)
            continue;
        uintptr_t address = address_of(&from[i]);
        size_t slot = home_slot(capacity, address, mix(address));
        while (slots[slot].address_size != 0)
            slot = next_slot(capacity, slot);
        slots[slot] = from[i];
    }
}

/* What a shard of bytes of slots reserves. Under a limit on address space, room for one
 * growth, and the small shards together within one reservation's share of the limit: 512
 * of MIN_RESERVATION took most of a limit of 300 MiB from a program that had its blocks in
 * 5 regions, and four times the slots of a shard of a million blocks a third of 400 MiB. */
static size_t reservation_for(size_t bytes)
{
    size_t share = os_reservation_share();
    if (share == SIZE_MAX)
        return bytes * RESERVATION_FACTOR > MIN_RESERVATION ? bytes * RESERVATION_FACTOR
                                                              : MIN_RESERVATION;
    size_t least = share / SHARD_COUNT < MIN_RESERVATION ? share / SHARD_COUNT : MIN_RESERVATION;
    size_t one_growth = bytes + bytes / 2;
    return one_growth > least ? one_growth : least;
}

/* Moves the shard's blocks into a new reservation of RESERVATION_FACTOR times capacity. */
static bool relocate(struct shard *shard, size_t capacity)
{
    size_t bytes = capacity * sizeof(struct slot);
    size_t reserved = reservation_for(bytes);
    struct slot *slots = os_reserve(&reserved);
    if (slots == NULL || reserved < bytes || !os_commit_populated(slots, bytes)) {
        os_unmap(slots, reserved);
        return false;
    }
    struct slot *old = shard->slots;
    size_t old_capacity = shard->capacity;
    /* Atomic for live_table_prefetch, which reads them without the lock. */
    __atomic_store_n(&shard->slots, slots, __ATOMIC_RELAXED);
    __atomic_store_n(&shard->capacity, capacity, __ATOMIC_RELAXED);
    rehash_into(slots, capacity, old, old_capacity);
    os_unmap(old, shard->reserved);
    shard->reserved = reserved;
    return true;
}

/* Rehashes the shard's blocks into the first capacity of its slots (committed), through the
 * scratch slots; false, with nothing changed, when there is no memory for those. */
static bool rehash_in_place(struct shard *shard, size_t capacity)
{
    spin_lock_take(&scratch.lock);
    if (!scratch_hold(shard->count + 1)) {
        spin_lock_release(&scratch.lock);
        return false;
    }
    /* Only the blocks are copied, each over the last copy when the slot was empty: a branch
     * on emptiness here and in rehash_into went either way at random, a third of the time. */
    struct slot *slots = shard->slots;
    size_t held = 0;
    for (size_t i = 0; i < shard->capacity; i++) {
        scratch.slots[held] = slots[i];
        held += slots[i].address_size != 0;
        slots[i].address_size = 0;
    }
    __atomic_store_n(&shard->capacity, capacity, __ATOMIC_RELAXED);
    rehash_into(slots, capacity, scratch.slots, held);
    spin_lock_release(&scratch.lock);
    return true;
}

/* A shard grows in place, into address space reserved beyond its slots: only the new quarter
 * is fresh memory. On this machine (a virtual machine) a page costs about 2.3 us at its first
 * touch, even when the mmap backed it; growing into new slots each time touched 5 times the
 * final table's pages, unmapped 4 times as many, and took 0.85 s of a traced xmllint's 5 s.
 * The reservation is a few times the slots, not one size for all: valgrind, and programs run
 * under a limit on address space, have little of it. */
static bool grow(struct shard *shard)
{
    size_t capacity = shard->capacity + shard->capacity * 2 / 5;
    if (capacity < INITIAL_CAPACITY)
        capacity = INITIAL_CAPACITY;
    capacity = (capacity + SLOTS_PER_PAGE - 1) / SLOTS_PER_PAGE * SLOTS_PER_PAGE;
    size_t old_capacity = shard->capacity;
    if (capacity * sizeof(struct slot) > shard->reserved)
        return relocate(shard, capacity);
    if (!os_commit_populated(shard->slots + old_capacity,
                             (capacity - old_capacity) * sizeof(struct slot)))
        return false; /* the pages committed stay for the next try */
    return rehash_in_place(shard, capacity);
}

/* A shard this sparse at a periodic flush (at most an eighth full) gives most of its slots
 * back to the kernel: a daemon's burst of a million blocks must not hold 20 MiB of the
 * tracer's for the rest of its life. It keeps room for four times its blocks (a quarter
 * full, so that it grows again only once they have doubled), and its reservation, which it
 * grows into again. A table that falls by less than seven eighths, or stays level, moves
 * nothing. */
#define SPARSE_LOAD_DENOMINATOR 8u
#define SHRUNK_LOAD_DENOMINATOR 4u

static bool shrink_if_sparse(struct shard *shard)
{
    if (shard->capacity <= INITIAL_CAPACITY
        || shard->count * SPARSE_LOAD_DENOMINATOR > shard->capacity)
        return false;
    size_t capacity = shard->count * SHRUNK_LOAD_DENOMINATOR;
    if (capacity < INITIAL_CAPACITY)
        capacity = INITIAL_CAPACITY;
    capacity = (capacity + SLOTS_PER_PAGE - 1) / SLOTS_PER_PAGE * SLOTS_PER_PAGE;
    size_t old_capacity = shard->capacity;
    if (capacity >= old_capacity || !rehash_in_place(shard, capacity))
        return false;
    os_decommit(shard->slots + capacity, (old_capacity - capacity) * sizeof(struct slot));
    return true;
}

/* Gives back the scratch slots, once shards shrank: they were as many as the blocks of the
 * largest shard at its last change, and the next growth maps what it needs. */
static void scratch_release(void)
{
    spin_lock_take(&scratch.lock);
    os_unmap(scratch.slots, scratch.capacity * sizeof *scratch.slots);
    scratch.slots = NULL;
    scratch.capacity = 0;
    spin_lock_release(&scratch.lock);
}

/* The slot holding address, or the empty slot where it would go; the shard has slots. */
static inline __attribute__((always_inline)) size_t find_slot(const struct shard *shard,
                                                              uintptr_t address, uint64_t hash)
{
    uint64_t key = address >> 3;
    size_t slot = home_slot(shard->capacity, address, hash);
    while (shard->slots[slot].address_size != 0
           && (shard->slots[slot].address_size & ADDRESS_MASK) != key)
        slot = next_slot(shard->capacity, slot);
    return slot;
}

/* Backward-shift deletion: later members of the probe run move up, so lookups never need
 * tombstones. */
static void delete_slot(struct shard *shard, size_t hole)
{
    size_t slot = hole;
    for (;;) {
        slot = next_slot(shard->capacity, slot);
        if (shard->slots[slot].address_size == 0)
            break;
        uintptr_t moving = address_of(&shard->slots[slot]);
        size_t home = home_slot(shard->capacity, moving, mix(moving));
        /* Move the entry into the hole unless its home lies cyclically in (hole, slot]. */
        bool home_after_hole = hole <= slot ? (hole < home && home <= slot)
                                            : (hole < home || home <= slot);
        if (!home_after_hole) {
            shard->slots[hole] = shard->slots[slot];
            hole = slot;
        }
    }
    shard->slots[hole].address_size = 0;
    shard->count--;
}

/* ---- spilled blocks: too big, or at an address a slot cannot hold ----------------------- */

static struct live_block *spilled_find(struct shard *shard, uintptr_t address)
{
    for (uint32_t i = 0; i < shard->spilled_count; i++)
        if (shard->spilled[i].address == address)
            return &shard->spilled[i];
    return NULL;
}

static void spilled_remove(struct shard *shard, struct live_block *block)
{
    *block = shard->spilled[--shard->spilled_count];
}

static bool spill(struct shard *shard, const struct live_block *block)
{
    if (shard->spilled_count == shard->spilled_capacity) {
        uint32_t capacity = shard->spilled_capacity ? shard->spilled_capacity * 2 : 64;
        struct live_block *spilled =
            os_map_grown(shard->spilled, shard->spilled_capacity * sizeof *spilled,
                         shard->spilled_count * sizeof *spilled, capacity * sizeof *spilled);
        if (spilled == NULL)
            return false;
        shard->spilled = spilled;
        shard->spilled_capacity = capacity;
    }
    shard->spilled[shard->spilled_count++] = *block;
    return true;
}

/* ---- a block by address --------------------------------------------------------------- */

/* Where a shard holds a block: in a slot, or spilled (or neither: not held). */
struct place {
    size_t slot; /* SIZE_MAX: not in a slot */
    struct live_block *spilled;
};

static bool is_held(const struct place *place)
{
    return place->slot != SIZE_MAX || place->spilled != NULL;
}

/* The shard of address, with where it holds the block in *place; the caller holds the
 * shard's lock. */
static inline __attribute__((always_inline)) struct shard *find_locked(uintptr_t address,
                                                                       struct place *place)
{
    uint64_t hash = mix(address);
    struct shard *shard = shard_of(address, hash);
    place->slot = SIZE_MAX;
    place->spilled = NULL;
    if (shard->capacity != 0 && fits_a_slot(address)) {
        size_t found = find_slot(shard, address, hash);
        if (shard->slots[found].address_size != 0)
            place->slot = found;
    }
    if (place->slot == SIZE_MAX && shard->spilled_count != 0)
        place->spilled = spilled_find(shard, address);
    return shard;
}

/* Locks the shard of address and finds the block (see find_locked). release (a free's, else
 * NULL): the real free, called in between, with the block's slot loading. Locked, no other
 * thread can be handed the address and record it before the old record is gone. Loading,
 * the slot's cache miss overlaps the real free's own (the chunk's header): for a block
 * allocated long ago both miss, one after the other when the free came after the look-up (a
 * python3 run's frees: 22% are of blocks 130,000 or more allocations old). */
static inline __attribute__((always_inline)) struct shard *
lock_and_find(uintptr_t address, struct place *place, void (*release)(void *))
{
    uint64_t hash = mix(address);
    struct shard *shard = shard_of(address, hash);
    spin_lock_take(&shard->lock);
    if (release != NULL) {
        if (shard->capacity != 0)
            __builtin_prefetch(&shard->slots[home_slot(shard->capacity, address, hash)], 1);
        release((void *)address); // NOLINT(performance-no-int-to-ptr)
    }
    return find_locked(address, place);
}

static struct live_block block_at(const struct shard *shard, const struct place *place)
{
    return place->spilled ? *place->spilled : unpack(&shard->slots[place->slot]);
}

static void remove_at(struct shard *shard, const struct place *place)
{
    if (place->spilled)
        spilled_remove(shard, place->spilled);
    else
        delete_slot(shard, place->slot);
}

static void add_flags_at(struct shard *shard, const struct place *place, uint8_t flags)
{
    if (place->spilled)
        place->spilled->flags |= flags;
    else
        shard->slots[place->slot].context_time |= flags;
}

void live_table_prefetch(uintptr_t address)
{
    uint64_t hash = mix(address);
    const struct shard *shard = shard_of(address, hash);
    /* A growth may pair new slots with the old capacity or the other way round: the line is
     * then a wrong one, maybe unmapped, which a prefetch reads without a fault. */
    struct slot *slots = __atomic_load_n(&shard->slots, __ATOMIC_RELAXED);
    size_t capacity = __atomic_load_n(&shard->capacity, __ATOMIC_RELAXED);
    if (capacity != 0)
        __builtin_prefetch(&slots[home_slot(capacity, address, hash)], 1);
}

/* Whether one more block would pass the shard's load (see SMALL_SHARD_SLOTS). */
static bool is_full(const struct shard *shard)
{
    size_t after = shard->count + 1;
    if (shard->capacity < SMALL_SHARD_SLOTS)
        return after * 2 > shard->capacity;
    return after * MAX_LOAD_DENOMINATOR > shard->capacity * MAX_LOAD_NUMERATOR;
}

/* Holds block in its shard (locked), replacing a block held at its address; false when out
 * of memory (a block held at its address is then left as it was). */
static bool insert_locked(struct shard *shard, const struct live_block *block, uint64_t hash,
                          uint32_t *context_hint)
{
    struct slot packed;
    enum packing packing = pack(block, &packed, context_hint);
    if (packing == NO_CONTEXT)
        return false;
    if (packing == DOES_NOT_FIT) {
        struct place place;
        find_locked(block->address, &place);
        if (place.spilled == NULL && !spill(shard, block))
            return false;
        if (place.spilled != NULL)
            *place.spilled = *block;
        else if (place.slot != SIZE_MAX)
            delete_slot(shard, place.slot);
        return true;
    }
    if (is_full(shard) && !grow(shard))
        return false;
    if (shard->spilled_count != 0) {
        struct live_block *spilled = spilled_find(shard, block->address);
        if (spilled != NULL)
            spilled_remove(shard, spilled);
    }
    size_t slot = find_slot(shard, block->address, hash);
    if (shard->slots[slot].address_size == 0)
        shard->count++;
    shard->slots[slot] = packed;
    return true;
}

void live_table_insert(const struct live_block *block, uint32_t *context_hint)
{
    uint64_t hash = mix(block->address);
    struct shard *shard = shard_of(block->address, hash);
    spin_lock_take(&shard->lock);
    bool inserted = insert_locked(shard, block, hash, context_hint);
    spin_lock_release(&shard->lock);
    if (!inserted)
        say_out_of_memory();
}

/* The address, size and flags of the block at place into *out, what a free needs: the rest
 * of a slot's block is its context's, whose line a free mostly does not have in the cache.
 * Stored field by field: a block built on the stack and copied 16 bytes at a time was read
 * back across its one-byte flags store, which the processor cannot forward (a stall of some
 * 12 cycles on most frees: half of take's time on python3, perf). */
static void brief_at(const struct shard *shard, const struct place *place, struct live_block *out)
{
    if (place->spilled) {
        *out = *place->spilled;
        return;
    }
    const struct slot *slot = &shard->slots[place->slot];
    out->address = address_of(slot);
    out->size = slot->address_size >> ADDRESS_BITS;
    out->flags = slot->context_time & FLAG_MASK;
}

/* Inlined, with the look-up under it (lock_and_find, find_locked, find_slot), into the
 * functions a free and a realloc call: as four calls deep they took about 1% of a traced
 * sqlite3 run and 0.7% of python3 (perf, the tracer's share of the run). release: see
 * lock_and_find. */
/* With the block's shard locked (see scans). */
static void note_row_on_the_way(void)
{
    struct thread_slot *slot = thread_slot_own();
    if (slot == NULL)
        return;
    atomic_store_explicit(&slot->row_scan, atomic_load_explicit(&scans, memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store_explicit(&slot->row_on_the_way, true, memory_order_relaxed);
}

static inline __attribute__((always_inline)) bool take(uintptr_t address, struct live_block *out,
                                                      bool whole, void (*release)(void *))
{
    struct place place;
    struct shard *shard = lock_and_find(address, &place, release);
    bool held = is_held(&place);
    if (held) {
        if (whole) {
            *out = block_at(shard, &place);
        } else {
            brief_at(shard, &place, out);
            if (__builtin_expect(block_freed_late(out->flags), 0))
                note_row_on_the_way();
        }
        remove_at(shard, &place);
    }
    spin_lock_release(&shard->lock);
    return held;
}

bool live_table_take(uintptr_t address, struct live_block *out)
{
    return take(address, out, true, NULL);
}

bool live_table_remove(uintptr_t address, struct live_block *out, void (*release)(void *))
{
    return take(address, out, false, release);
}

bool live_table_resize(uintptr_t address, uint64_t size)
{
    struct place place;
    struct shard *shard = lock_and_find(address, &place, NULL);
    bool held = is_held(&place), inserted = true;
    if (held) {
        struct live_block block = block_at(shard, &place);
        block.size = size;
        inserted = insert_locked(shard, &block, mix(address), NULL);
    }
    spin_lock_release(&shard->lock);
    if (!inserted)
        say_out_of_memory();
    return held;
}

bool live_table_add_flags(uintptr_t address, uint8_t flags)
{
    struct place place;
    struct shard *shard = lock_and_find(address, &place, NULL);
    bool held = is_held(&place);
    if (held)
        add_flags_at(shard, &place, flags);
    spin_lock_release(&shard->lock);
    return held;
}

size_t live_table_count_locked(void)
{
    size_t total = 0;
    for (unsigned i = 0; i < SHARD_COUNT; i++)
        total += shards[i].count + shards[i].spilled_count;
    return total;
}

size_t live_table_copy_locked(struct live_block *out, size_t max)
{
    size_t copied = 0;
    for (unsigned i = 0; i < SHARD_COUNT; i++) {
        const struct shard *shard = &shards[i];
        for (size_t slot = 0; slot < shard->capacity && copied < max; slot++)
            if (shard->slots[slot].address_size != 0)
                out[copied++] = unpack(&shard->slots[slot]);
        for (uint32_t j = 0; j < shard->spilled_count && copied < max; j++)
            out[copied++] = shard->spilled[j];
    }
    return copied;
}

void live_table_add_flags_locked(uintptr_t address, uint8_t flags)
{
    struct place place;
    struct shard *shard = find_locked(address, &place);
    if (is_held(&place))
        add_flags_at(shard, &place, flags);
}

/* Moves the shard's queued rows to out (locked). */
static void move_queued(struct shard *shard, struct event_log *out)
{
    event_log_move_all(out, &shard->queued); /* a refusal is counted in out's refused */
    event_log_clear(&shard->queued);
    atomic_store_explicit(&shard->queued_hint, shard->queued.count, memory_order_relaxed);
}

size_t live_table_queue_event(const struct trace_event *event)
{
    struct shard *shard = shard_of(event->address, mix(event->address));
    struct thread_slot *slot = thread_slot_mine;
    bool on_the_way = slot != NULL && atomic_load_explicit(&slot->row_on_the_way,
                                                           memory_order_relaxed);
    spin_lock_take(&shard->lock);
    if (on_the_way && atomic_load_explicit(&slot->row_scan, memory_order_relaxed)
                          != atomic_load_explicit(&scans, memory_order_relaxed)) {
        spin_lock_take(&late_rows.lock); /* a scan copied the table since the block left */
        event_log_push(&late_rows.rows, event);
        spin_lock_release(&late_rows.lock);
    } else {
        event_log_push(&shard->queued, event); /* a refusal is counted, told by the writer */
    }
    size_t count = shard->queued.count;
    atomic_store_explicit(&shard->queued_hint, count, memory_order_relaxed);
    spin_lock_release(&shard->lock);
    if (on_the_way)
        atomic_store_explicit(&slot->row_on_the_way, false, memory_order_release);
    return count;
}

/* Moves the late rows a scan did not wait for (see scans) to out. */
static void move_late_rows(struct event_log *out)
{
    spin_lock_take(&late_rows.lock);
    event_log_move_all(out, &late_rows.rows);
    event_log_clear(&late_rows.rows);
    spin_lock_release(&late_rows.lock);
}

unsigned live_table_begin_scan_locked(struct event_log *out)
{
    move_late_rows(out);
    for (unsigned i = 0; i < SHARD_COUNT; i++)
        move_queued(&shards[i], out);
    return atomic_fetch_add_explicit(&scans, 1, memory_order_relaxed);
}

/* How long a scan waits for the rows on their way, at most: each is a stack's capture away,
 * unless its thread is stuck (a signal handler that does not return). */
#define ROWS_ON_THE_WAY_PAUSE_NS 50000L
#define ROWS_ON_THE_WAY_WAITS 4000u

void live_table_end_scan(unsigned scan, struct event_log *out)
{
    unsigned waits = 0;
    for (const struct thread_slot *slot = thread_slot_first(); slot != NULL;) {
        if (atomic_load_explicit(&slot->row_on_the_way, memory_order_acquire)
            && atomic_load_explicit(&slot->row_scan, memory_order_relaxed) == scan
            && waits < ROWS_ON_THE_WAY_WAITS) {
            struct timespec pause = {0, ROWS_ON_THE_WAY_PAUSE_NS};
            nanosleep(&pause, NULL);
            waits++;
            continue;
        }
        slot = slot->next;
    }
    move_late_rows(out);
}

size_t live_table_slots(void)
{
    size_t total = 0;
    for (unsigned i = 0; i < SHARD_COUNT; i++) {
        spin_lock_take(&shards[i].lock);
        total += shards[i].capacity;
        spin_lock_release(&shards[i].lock);
    }
    return total;
}

size_t live_table_count(void)
{
    size_t total = 0;
    for (unsigned i = 0; i < SHARD_COUNT; i++) {
        spin_lock_take(&shards[i].lock);
        total += shards[i].count + shards[i].spilled_count;
        spin_lock_release(&shards[i].lock);
    }
    return total;
}

/* ---- passes over every block ------------------------------------------------------------ */

/* The flags a pass adds to block after it appended the block's row to out, or 0 (no row). */
/* Whether a pass may write a row for a block with these flags: none after its exit row, and
 * none for an ignored block, but the `reachable` exit row that settles the `malloc` row
 * written before it was ignored. */
static bool may_get_a_row(uint64_t flags, enum live_table_pass pass)
{
    if (flags & BLOCK_WRITTEN_AT_EXIT)
        return false;
    return !(flags & BLOCK_IGNORED) || (pass == PASS_EXIT && (flags & BLOCK_WRITTEN_AS_MALLOC));
}

static uint8_t collect_block(const struct live_block *block, enum live_table_pass pass,
                             uint64_t now_ms, uint64_t min_age_ms, struct event_log *out)
{
    if (!may_get_a_row(block->flags, pass))
        return 0;
    enum event_kind kind;
    if (pass == PASS_EXIT) {
        kind = block->flags & BLOCK_IGNORED ? EVENT_REACHABLE : EVENT_LEAK;
    } else {
        if ((block->flags & BLOCK_WRITTEN_AS_MALLOC) || now_ms < block->time_ms
            || now_ms - block->time_ms < min_age_ms)
            return 0;
        kind = EVENT_MALLOC;
    }
    struct trace_event event = event_of_block(block, kind);
    if (!event_log_push(out, &event))
        return 0; /* counted in out's refused */
    return pass == PASS_EXIT ? BLOCK_WRITTEN_AT_EXIT : BLOCK_WRITTEN_AS_MALLOC;
}

enum collected { COLLECTED, COLLECTED_AND_SHRANK, OUT_FULL };

/* Whether out refused a row since *refused was read while it holds rows to write: then the
 * refusal is taken back (the row is appended again once out is written). */
static bool out_is_full(struct event_log *out, size_t *refused)
{
    if (out->refused != *refused && out->count != 0) {
        out->refused = *refused;
        return true;
    }
    *refused = out->refused;
    return false;
}

/* A row out has no memory for stops the shard's pass (OUT_FULL) while out holds rows: the
 * caller empties out, and calls again for the rest (the rows appended are marked, and not
 * appended again). With out empty, such a row is lost, and counted in out's refused. */
static enum collected collect_shard(struct shard *shard, enum live_table_pass pass,
                                    uint64_t now_ms, uint64_t min_age_ms, struct event_log *out)
{
    move_queued(shard, out);
    if (pass == PASS_FREE_ROWS)
        return COLLECTED;
    size_t refused = out->refused;
    for (size_t i = 0; i < shard->capacity; i++) {
        if (shard->slots[i].address_size == 0
            || !may_get_a_row(shard->slots[i].context_time & FLAG_MASK, pass))
            continue;
        struct live_block block = unpack(&shard->slots[i]);
        shard->slots[i].context_time |= collect_block(&block, pass, now_ms, min_age_ms, out);
        if (out_is_full(out, &refused))
            return OUT_FULL;
    }
    for (uint32_t i = 0; i < shard->spilled_count; i++) {
        shard->spilled[i].flags |= collect_block(&shard->spilled[i], pass, now_ms, min_age_ms, out);
        if (out_is_full(out, &refused))
            return OUT_FULL;
    }
    return pass == PASS_PERIODIC && shrink_if_sparse(shard) ? COLLECTED_AND_SHRANK : COLLECTED;
}

/* Drops the contexts no block uses any more: each thread that ever allocated from a place
 * has one, and a program that starts threads all its life would otherwise keep the contexts
 * of threads long gone. With every shard lock held. */
static void renumber_contexts(void)
{
    uint32_t *used = block_context_renumber_begin();
    if (used == NULL)
        return;
    for (unsigned i = 0; i < SHARD_COUNT; i++)
        for (size_t slot = 0; slot < shards[i].capacity; slot++)
            if (shards[i].slots[slot].address_size != 0)
                used[shards[i].slots[slot].context_time >> 32] = 1;
    block_context_renumber(used);
    for (unsigned i = 0; i < SHARD_COUNT; i++) {
        for (size_t slot = 0; slot < shards[i].capacity; slot++) {
            struct slot *held = &shards[i].slots[slot];
            if (held->address_size != 0)
                held->context_time = (uint64_t)used[held->context_time >> 32] << 32
                                     | (held->context_time & 0xffffffffu);
        }
    }
    block_context_renumber_end(used);
}

void live_table_collect(enum live_table_pass pass, uint64_t now_ms, uint64_t min_age_ms,
                        struct event_log *out, void (*empty)(struct event_log *out))
{
    if (pass == PASS_PERIODIC && block_context_renumbering_pays()) {
        live_table_lock_all();
        renumber_contexts();
        live_table_unlock_all();
    }
    move_late_rows(out);
    bool shrank = false;
    for (unsigned i = 0; i < SHARD_COUNT; i++) {
        enum collected collected;
        for (;;) {
            spin_lock_take_long(&shards[i].lock);
            collected = collect_shard(&shards[i], pass, now_ms, min_age_ms, out);
            spin_lock_release(&shards[i].lock);
            if (collected != OUT_FULL)
                break;
            empty(out); /* with no lock of the table held: it names frames, and writes */
        }
        shrank |= collected == COLLECTED_AND_SHRANK;
    }
    if (shrank)
        scratch_release();
}

void live_table_fit_reservations(void)
{
    for (unsigned i = 0; i < SHARD_COUNT; i++) {
        struct shard *shard = &shards[i];
        if (__atomic_load_n(&shard->slots, __ATOMIC_RELAXED) == NULL)
            continue; /* no reservation yet: made under the limit */
        spin_lock_take(&shard->lock);
        size_t in_use = shard->capacity * sizeof(struct slot);
        os_fit_reservation(shard->slots, &shard->reserved, in_use, reservation_for(in_use));
        spin_lock_release(&shard->lock);
    }
}

void live_table_lock_all(void)
{
    for (unsigned i = 0; i < SHARD_COUNT; i++)
        spin_lock_take_long(&shards[i].lock);
}

bool live_table_is_shard_lock(const struct spin_lock *lock)
{
    for (unsigned i = 0; i < SHARD_COUNT; i++)
        if (lock == &shards[i].lock)
            return true;
    return false;
}

void live_table_unlock_all(void)
{
    for (unsigned i = SHARD_COUNT; i-- > 0;)
        spin_lock_release(&shards[i].lock);
}

void live_table_reset_in_child(void)
{
    spin_lock_forget_waiters();
    for (unsigned i = 0; i < SHARD_COUNT; i++) {
        spin_lock_reset(&shards[i].lock);
        shards[i].queued.count = 0;
        shards[i].queued.refused = 0;
        atomic_store_explicit(&shards[i].queued_hint, 0, memory_order_relaxed);
    }
}
