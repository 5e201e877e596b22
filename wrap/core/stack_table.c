/* stack_table.c: records live in one address range reserved at first use and filled by
 * bumping a pointer, so an id is an offset (in 8-byte words) and readers need no lock: a
 * bucket head is published with a release store after the record is complete. */
#include "stack_table.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "os.h"

#define BUCKET_BITS 18
#define BUCKET_COUNT (1u << BUCKET_BITS)
#define REGION_WANTED ((size_t)4 << 30)
/* The region is committed this much at a time, as records reach it (os.h). Each chunk also
 * becomes a root of LeakSanitizer's scan (os.h): a record points to its stack's JSON. */
#define COMMIT_CHUNK ((size_t)1 << 20)

/* What every lookup reads. */
static _Atomic uint32_t buckets[BUCKET_COUNT];
static char *region; /* written once under the tail's lock, read after a bucket load */
static struct stack_record empty_stack;

/* What adding a stack writes, in cache lines of its own: a thread adding stacks must not
 * take the line of region from threads that only look theirs up. */
static struct {
    pthread_mutex_t lock;
    size_t region_size;
    size_t region_used;
    size_t region_committed; /* the first bytes of the region, usable */
    atomic_uint stack_count;
    bool full_said;
} __attribute__((aligned(64))) tail = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .stack_count = 1, /* the empty stack */
};

/* Each frame is multiplied by an odd number of its own and the products summed, then the sum
 * is mixed once (murmur3's finalizer). The products do not wait for each other, so the loop
 * runs at the multiplier's throughput: the chained hash it replaces (FNV with a shift per
 * frame) waited out every multiply, and took 8% of a traced malloc+free at depth 16. Stacks
 * that differ in one frame have sums that differ by that difference times an odd number,
 * which is never 0; swapped frames differ by their difference times a multiple of 2^k, k
 * small. */
static uint32_t hash_frames(void *const *frames, uint32_t depth)
{
    uint64_t sum = depth;
    uint64_t multiplier = 0x9e3779b97f4a7c15ull;
    for (uint32_t i = 0; i < depth; i++) {
        sum += (uint64_t)(uintptr_t)frames[i] * multiplier;
        multiplier += 0x6a09e667f3bcc908ull; /* even: every multiplier stays odd */
    }
    sum ^= sum >> 33;
    sum *= 0xff51afd7ed558ccdull;
    sum ^= sum >> 33;
    sum *= 0xc4ceb9fe1a85ec53ull;
    sum ^= sum >> 33;
    return (uint32_t)sum;
}

struct stack_record *stack_table_get(uint32_t id)
{
    if (id == STACK_ID_EMPTY)
        return &empty_stack; /* the region may not exist yet */
    return (struct stack_record *)(region + (size_t)id * 8);
}

/* A loop rather than memcmp: -fno-builtin makes memcmp a call through the PLT, and a
 * dozen words are compared faster than that call is made. */
static bool same_stack(const struct stack_record *record, uint32_t hash, void *const *frames,
                       uint32_t depth)
{
    if (record->hash != hash || record->depth != depth)
        return false;
    for (uint32_t i = 0; i < depth; i++)
        if (record->frames[i] != frames[i])
            return false;
    return true;
}

static uint32_t find(uint32_t head, uint32_t hash, void *const *frames, uint32_t depth)
{
    for (uint32_t id = head; id != 0;) {
        const struct stack_record *record = stack_table_get(id);
        if (same_stack(record, hash, frames, depth))
            return id;
        id = record->next;
    }
    return 0;
}

/* Reserves the region; its first record stays unused, so that no stack gets id 0. Called
 * with the lock. */
static bool reserve_region(void)
{
    size_t size = REGION_WANTED;
    char *memory = os_reserve(&size);
    if (memory == NULL)
        return false;
    tail.region_size = size;
    tail.region_used = sizeof(struct stack_record);
    region = memory;
    return true;
}

/* Commits the region up to end. Called with the lock. */
static bool commit_through(size_t end)
{
    while (tail.region_committed < end) {
        size_t chunk = tail.region_size - tail.region_committed < COMMIT_CHUNK
                           ? tail.region_size - tail.region_committed
                           : COMMIT_CHUNK;
        if (!os_commit(region + tail.region_committed, chunk))
            return false;
        os_leak_root_add(region + tail.region_committed, chunk);
        tail.region_committed += chunk;
    }
    return true;
}

void stack_table_fit_reservation(void)
{
    pthread_mutex_lock(&tail.lock);
    os_fit_reservation(region, &tail.region_size, tail.region_committed, REGION_WANTED);
    pthread_mutex_unlock(&tail.lock);
}

uint32_t stack_table_intern(void *const *frames, uint32_t depth)
{
    if (depth == 0)
        return STACK_ID_EMPTY;
    uint32_t hash = hash_frames(frames, depth);
    _Atomic uint32_t *bucket = &buckets[hash & (BUCKET_COUNT - 1)];
    uint32_t id = find(atomic_load_explicit(bucket, memory_order_acquire), hash, frames, depth);
    if (id != 0)
        return id;

    pthread_mutex_lock(&tail.lock);
    /* Another thread may have added it since the lock-free look. */
    id = find(atomic_load_explicit(bucket, memory_order_relaxed), hash, frames, depth);
    size_t bytes = sizeof(struct stack_record) + depth * sizeof *frames;
    if (id == 0 && (region != NULL || reserve_region())) {
        if (tail.region_used + bytes <= tail.region_size
            && (tail.region_used + bytes) / 8 <= UINT32_MAX && commit_through(tail.region_used + bytes)) {
            struct stack_record *record = (struct stack_record *)(region + tail.region_used);
            id = (uint32_t)(tail.region_used / 8);
            tail.region_used += bytes;
            record->next = atomic_load_explicit(bucket, memory_order_relaxed);
            record->hash = hash;
            record->depth = depth;
            memcpy(record->frames, frames, depth * sizeof *frames);
            atomic_store_explicit(bucket, id, memory_order_release);
            atomic_fetch_add(&tail.stack_count, 1);
        } else if (!tail.full_said) {
            tail.full_said = true;
            os_message("the stack table is full: new stacks are written without frames");
        }
    }
    pthread_mutex_unlock(&tail.lock);
    return id;
}

void stack_table_for_each(void (*visit)(uint32_t id, struct stack_record *record, void *context),
                          void *context)
{
    /* Records below the end seen under the lock are complete and never move. */
    pthread_mutex_lock(&tail.lock);
    size_t end = tail.region_used;
    pthread_mutex_unlock(&tail.lock);
    for (size_t offset = sizeof(struct stack_record); offset < end;) {
        struct stack_record *record = (struct stack_record *)(region + offset);
        visit((uint32_t)(offset / 8), record, context);
        offset += sizeof(struct stack_record) + record->depth * sizeof(void *);
    }
}

struct retiring {
    bool (*gone)(const void *address);
};

/* The record stays in its bucket's chain with a hash no lookup of its frames computes (the
 * complement of theirs), so readers need no lock and no test of their own. Complemented
 * once: two threads may retire at once (a dlclose on each). */
static void retire_if_gone(uint32_t id, struct stack_record *record, void *context)
{
    (void)id;
    const struct retiring *retiring = context;
    if (__atomic_load_n(&record->retired, __ATOMIC_RELAXED))
        return;
    for (uint32_t i = 0; i < record->depth; i++)
        if (retiring->gone((const char *)record->frames[i] - 1)) {
            if (!__atomic_exchange_n(&record->retired, 1, __ATOMIC_RELAXED))
                __atomic_store_n(&record->hash, ~record->hash, __ATOMIC_RELAXED);
            return;
        }
}

void stack_table_retire(bool (*gone)(const void *address))
{
    struct retiring retiring = {gone};
    stack_table_for_each(retire_if_gone, &retiring);
}

bool stack_table_holds(uint32_t id)
{
    return id == STACK_ID_EMPTY
           || (size_t)id * 8 < __atomic_load_n(&tail.region_used, __ATOMIC_ACQUIRE);
}

uint32_t stack_table_count(void)
{
    return atomic_load(&tail.stack_count);
}

void stack_table_lock(void)
{
    pthread_mutex_lock(&tail.lock);
}

void stack_table_unlock(void)
{
    pthread_mutex_unlock(&tail.lock);
}

void stack_table_reset_in_child(void)
{
    pthread_mutex_init(&tail.lock, NULL);
}
