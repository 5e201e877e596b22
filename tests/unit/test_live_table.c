/* test_live_table.c: the table of live blocks and the queued free rows (live_table.h).
 *
 * The table is process-wide. Each test leaves it empty (and its queues drained), so that
 * the tracer's exit pass, which runs after main returns, finds nothing to write. The flush
 * lock is held for the whole run: the tracer's own flusher thread (started by its
 * constructor) also calls live_table_collect, and must not take rows from under a test. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "block_context.h"
#include "check.h"
#include "event_log.h"
#include "events.h"
#include "flusher.h"
#include "live_table.h"

/* ---- helpers -------------------------------------------------------------------------- */

/* xorshift64*: fixed seed, the same sequence on every run. */
static uint64_t prng_state = 0x243f6a8885a308d3ull;
static uint64_t prng(void)
{
    prng_state ^= prng_state >> 12;
    prng_state ^= prng_state << 25;
    prng_state ^= prng_state >> 27;
    return prng_state * 0x2545f4914f6cdd1dull;
}

static struct live_block make_block(uintptr_t address, uint64_t size, uint64_t time_ms)
{
    struct live_block block = {
        .address = address,
        .size = size,
        .time_ms = time_ms,
        .stack_id = (uint32_t)(size * 3 + 1),
        .thread_id = (int32_t)(1000 + size % 97),
        .entry_point = (uint8_t)(size % ENTRY_POINT_COUNT),
        .flags = 0,
    };
    return block;
}

/* Whether the table holds address (adding no flag). */
static bool held(uintptr_t address)
{
    return live_table_add_flags(address, 0);
}

static bool blocks_equal(const struct live_block *a, const struct live_block *b)
{
    return a->address == b->address && a->size == b->size && a->time_ms == b->time_ms
           && a->stack_id == b->stack_id && a->thread_id == b->thread_id
           && a->entry_point == b->entry_point && a->flags == b->flags;
}

/* The index of the first row of log for address and kind after index from, or -1. */
static long find_row(const struct event_log *log, size_t from, uintptr_t address,
                     enum event_kind kind)
{
    for (size_t i = from; i < log->count; i++)
        if (log->events[i].address == address && log->events[i].kind == kind)
            return (long)i;
    return -1;
}

static size_t rows_of_kind(const struct event_log *log, enum event_kind kind)
{
    size_t count = 0;
    for (size_t i = 0; i < log->count; i++)
        count += log->events[i].kind == kind;
    return count;
}

/* live_table_collect's callback for a log out of memory: the tests' logs never are (the
 * integration test memory_exhausted_at_exit runs out). */
static void never_out_of_memory(struct event_log *log)
{
    CHECK(log == NULL);
}

/* Empties the table and drains every queue: what each test leaves behind. */
static void clear_all(const uintptr_t *addresses, size_t count)
{
    struct live_block out;
    for (size_t i = 0; i < count; i++)
        live_table_take(addresses[i], &out);
    struct event_log drained = {0};
    live_table_collect(PASS_PERIODIC, 0, UINT64_MAX, &drained, never_out_of_memory);
    event_log_release(&drained);
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_empty_table(void)
{
    /* Before any insert no shard has slots: every look-up must still answer "not held". */
    struct live_block out;
    memset(&out, 0x77, sizeof out);
    CHECK_EQ_U64(live_table_count(), 0);
    CHECK_FALSE(live_table_take(0x10000, &out));
    CHECK_FALSE(live_table_take(0x7fffffff0000, &out));
    CHECK_EQ_U64(out.address, 0x7777777777777777ull); /* *out untouched when not held */
    CHECK_FALSE(live_table_add_flags(0x10000, BLOCK_IGNORED));
    struct event_log log = {0};
    live_table_collect(PASS_PERIODIC, 1000000, 0, &log, never_out_of_memory);
    CHECK_EQ_U64(log.count, 0);
    live_table_collect(PASS_EXIT, 1000000, 0, &log, never_out_of_memory);
    CHECK_EQ_U64(log.count, 0);
    event_log_release(&log);
}

static void test_insert_take(void)
{
    struct live_block a = make_block(0x10000, 24, 5000);
    a.stack_id = 77;
    a.thread_id = -3;
    a.entry_point = ENTRY_NEW_ARRAY_ALIGNED;
    a.flags = BLOCK_IGNORED;
    struct live_block b = make_block(0x10010, 1, 6000);

    live_table_insert(&a, NULL);
    CHECK_EQ_U64(live_table_count(), 1);
    live_table_insert(&b, NULL);
    CHECK_EQ_U64(live_table_count(), 2);

    struct live_block out;
    CHECK_FALSE(live_table_take(0x10020, &out)); /* a neighbour that was never inserted */
    CHECK_FALSE(live_table_take(0x10008, &out)); /* inside a block is not the block */
    CHECK_EQ_U64(live_table_count(), 2);

    memset(&out, 0, sizeof out);
    if (CHECK_TRUE(live_table_take(0x10000, &out))) {
        CHECK(blocks_equal(&out, &a));
        CHECK_EQ_U64(out.address, 0x10000);
        CHECK_EQ_U64(out.size, 24);
        CHECK_EQ_U64(out.time_ms, 5000);
        CHECK_EQ_U64(out.stack_id, 77);
        CHECK_EQ_I64(out.thread_id, -3);
        CHECK_EQ_U64(out.entry_point, ENTRY_NEW_ARRAY_ALIGNED);
        CHECK_EQ_U64(out.flags, BLOCK_IGNORED);
    }
    CHECK_EQ_U64(live_table_count(), 1);
    CHECK_FALSE(live_table_take(0x10000, &out)); /* taken once only */
    CHECK_FALSE(held(0x10000));
    CHECK_TRUE(held(0x10010));

    if (CHECK_TRUE(live_table_take(0x10010, &out)))
        CHECK(blocks_equal(&out, &b));
    CHECK_EQ_U64(live_table_count(), 0);

    /* The same address can be inserted again after its take. */
    live_table_insert(&a, NULL);
    CHECK_EQ_U64(live_table_count(), 1);
    CHECK_TRUE(live_table_take(0x10000, &out));
    CHECK_EQ_U64(live_table_count(), 0);
}

/* A remove gives what a free needs (address, size, flags) of a block in a slot and of a
 * spilled one, and takes it like live_table_take. */
static void test_remove(void)
{
    struct live_block slotted = make_block(0x40000, 40, 3000);
    slotted.stack_id = 12;
    slotted.flags = BLOCK_WRITTEN_AS_MALLOC | BLOCK_IGNORED;
    struct live_block spilled = make_block(0x40040, (uint64_t)1 << 36, 3001);
    spilled.flags = BLOCK_WRITTEN_AT_EXIT;
    live_table_insert(&slotted, NULL);
    live_table_insert(&spilled, NULL);
    CHECK_EQ_U64(live_table_count(), 2);

    struct live_block out;
    CHECK_FALSE(live_table_remove(0x40010, &out, NULL)); /* never inserted */
    if (CHECK_TRUE(live_table_remove(0x40000, &out, NULL))) {
        CHECK_EQ_U64(out.address, 0x40000);
        CHECK_EQ_U64(out.size, 40);
        CHECK_EQ_U64(out.flags, BLOCK_WRITTEN_AS_MALLOC | BLOCK_IGNORED);
    }
    if (CHECK_TRUE(live_table_remove(0x40040, &out, NULL))) {
        CHECK_EQ_U64(out.address, 0x40040);
        CHECK_EQ_U64(out.size, (uint64_t)1 << 36);
        CHECK_EQ_U64(out.flags, BLOCK_WRITTEN_AT_EXIT);
    }
    CHECK_EQ_U64(live_table_count(), 0);
    CHECK_FALSE(live_table_remove(0x40000, &out, NULL)); /* removed once only */
    CHECK_FALSE(live_table_take(0x40040, &out));
}

/* A free's release (the real free) runs once, with the block's shard locked: a thread handed
 * the same address meanwhile records it only once the old record is gone, so the table holds
 * the new block afterwards, where releasing before the lock left it holding nothing. */
static atomic_int release_calls;
static uintptr_t released_address;

static void *record_reused_address(void *unused)
{
    (void)unused;
    while (atomic_load(&release_calls) == 0)
        usleep(1000);
    struct live_block reused = make_block(0x50000, 77, 4000);
    live_table_insert(&reused, NULL);
    return NULL;
}

static void release_slowly(void *ptr)
{
    released_address = (uintptr_t)ptr;
    atomic_fetch_add(&release_calls, 1);
    usleep(50000); /* time for the other thread's insert to reach the lock */
}

static void test_remove_releases_under_the_lock(void)
{
    struct live_block block = make_block(0x50000, 40, 3000);
    live_table_insert(&block, NULL);
    pthread_t reuser;
    if (!CHECK_EQ_U64(pthread_create(&reuser, NULL, record_reused_address, NULL), 0))
        return;
    struct live_block out;
    if (CHECK_TRUE(live_table_remove(0x50000, &out, release_slowly)))
        CHECK_EQ_U64(out.size, 40);
    pthread_join(reuser, NULL);
    CHECK_EQ_U64(atomic_load(&release_calls), 1);
    CHECK_EQ_U64(released_address, 0x50000);
    if (CHECK_TRUE(live_table_take(0x50000, &out)))
        CHECK_EQ_U64(out.size, 77);

    /* An address the table does not hold is released all the same. */
    CHECK_FALSE(live_table_remove(0x50040, &out, release_slowly));
    CHECK_EQ_U64(atomic_load(&release_calls), 2);
    CHECK_EQ_U64(released_address, 0x50040);
    CHECK_EQ_U64(live_table_count(), 0);
}

static void test_replace(void)
{
    struct live_block first = make_block(0x20000, 100, 1000);
    first.flags = BLOCK_WRITTEN_AS_MALLOC;
    struct live_block second = make_block(0x20000, 200, 2000);
    second.entry_point = ENTRY_STRDUP;
    second.stack_id = 9;

    live_table_insert(&first, NULL);
    live_table_insert(&second, NULL);
    CHECK_EQ_U64(live_table_count(), 1); /* replaced, not added */

    struct live_block out;
    if (CHECK_TRUE(live_table_take(0x20000, &out))) {
        CHECK_EQ_U64(out.size, 200);
        CHECK_EQ_U64(out.time_ms, 2000);
        CHECK_EQ_U64(out.entry_point, ENTRY_STRDUP);
        CHECK_EQ_U64(out.stack_id, 9);
        CHECK_EQ_U64(out.flags, 0); /* the whole record is replaced, flags included */
    }
    CHECK_FALSE(live_table_take(0x20000, &out));
    CHECK_EQ_U64(live_table_count(), 0);
}

/* A context hint is only a hint: any value in it gives the block its own context, and it is
 * left holding that context's id. */
static void test_context_hint(void)
{
    struct live_block a = make_block(0x38000, 40, 7000);
    struct live_block b = make_block(0x38040, 41, 7000); /* another stack, thread, entry point */
    struct live_block c = make_block(0x38080, 41, 7001); /* b's context */
    uint32_t hint = 0xdeadbeefu, out_of_range = hint;
    live_table_insert(&a, &hint);
    CHECK(hint != out_of_range);
    const struct block_context *context = block_context_of(hint);
    CHECK_EQ_U64(context->stack_id, a.stack_id);
    CHECK_EQ_I64(context->thread_id, a.thread_id);
    CHECK_EQ_U64(context->entry_point, a.entry_point);
    uint32_t a_context = hint;
    live_table_insert(&b, &hint); /* a's context in the hint: not b's */
    CHECK(hint != a_context);
    CHECK_EQ_U64(block_context_of(hint)->stack_id, b.stack_id);
    uint32_t b_context = hint;
    live_table_insert(&c, &hint);
    CHECK_EQ_U64(hint, b_context);
    struct live_block out;
    if (CHECK_TRUE(live_table_take(a.address, &out)))
        CHECK(blocks_equal(&out, &a));
    if (CHECK_TRUE(live_table_take(b.address, &out)))
        CHECK(blocks_equal(&out, &b));
    if (CHECK_TRUE(live_table_take(c.address, &out)))
        CHECK(blocks_equal(&out, &c));
    CHECK_EQ_U64(live_table_count(), 0);
}

static void test_add_flags(void)
{
    struct live_block block = make_block(0x30000, 8, 1);
    block.flags = BLOCK_WRITTEN_AS_MALLOC;
    live_table_insert(&block, NULL);

    CHECK_TRUE(live_table_add_flags(0x30000, BLOCK_IGNORED));
    CHECK_TRUE(live_table_add_flags(0x30000, BLOCK_IGNORED)); /* idempotent */
    CHECK_FALSE(live_table_add_flags(0x30010, BLOCK_IGNORED));
    CHECK_EQ_U64(live_table_count(), 1);

    struct live_block out;
    if (CHECK_TRUE(live_table_take(0x30000, &out))) {
        CHECK_EQ_U64(out.flags, BLOCK_WRITTEN_AS_MALLOC | BLOCK_IGNORED); /* ORed */
        CHECK_EQ_U64(out.size, 8);
    }
    CHECK_FALSE(live_table_add_flags(0x30000, BLOCK_IGNORED)); /* gone */
    CHECK_EQ_U64(live_table_count(), 0);
}

/* ---- probe runs that wrap around the end of a shard --------------------------------- */

/* A copy of the table's hashing (live_table.c), only to pick addresses that land in one
 * shard on neighbouring home slots at the end and the start of the slot array: the checks
 * below hold whatever the hashing is, they are just sharper with it. The shard is one no
 * other test uses (group 17). Filled with 420 blocks first, it grows from 256 slots to 512,
 * then to 768: a capacity that is not a power of two, where a wrap by mask would go wrong. */
#define SHARD_CAPACITY 768u
#define FILLERS 420u
#define SHARD_BASE 0x500044000000ull
static uint64_t mix_copy(uintptr_t address)
{
    return (uint64_t)(address >> 12) * 0x9e3779b97f4a7c15ull;
}
static bool in_shard_copy(uintptr_t address)
{
    return ((address >> 26 & 31) << 4 | mix_copy(address) >> 60) == (17u << 4 | 5);
}
static unsigned home_copy(uintptr_t address)
{
    uint64_t place = ((mix_copy(address) >> 28 & 0xffffffffu) * SHARD_CAPACITY) >> 32;
    return (unsigned)((place + ((address >> 4) & 255)) % SHARD_CAPACITY);
}

#define CRAFTED 12
static void test_wrapping_probe_runs(void)
{
    /* The fillers' homes are far from both ends, so that the crafted runs are their own. */
    static uintptr_t fillers[FILLERS];
    uintptr_t candidate = SHARD_BASE;
    for (unsigned i = 0; i < FILLERS; i++) {
        do
            candidate += 16;
        while (!in_shard_copy(candidate) || home_copy(candidate) < 200
               || home_copy(candidate) > 560);
        fillers[i] = candidate;
        struct live_block block = make_block(candidate, 8, 0);
        live_table_insert(&block, NULL);
    }
    /* Homes 767 (the last slot), 0 and 1. */
    static const unsigned homes[CRAFTED] = {767, 767, 767, 767, 767, 0, 767, 0, 1, 767, 1, 0};
    uintptr_t addresses[CRAFTED];
    for (unsigned i = 0; i < CRAFTED; i++) {
        do
            candidate += 16;
        while (!in_shard_copy(candidate) || home_copy(candidate) != homes[i]);
        addresses[i] = candidate;
    }

    bool present[CRAFTED] = {false};
    unsigned present_count = 0, round = 0, failed_round = 0;
    for (; round < 3000 && failed_round == 0; round++) {
        unsigned i = (unsigned)(prng() % CRAFTED);
        struct live_block out;
        if (present[i]) {
            if (!live_table_take(addresses[i], &out) || out.size != 1000 + i)
                failed_round = round + 1;
            present[i] = false;
            present_count--;
        } else {
            struct live_block block = make_block(addresses[i], 1000 + i, round);
            live_table_insert(&block, NULL);
            present[i] = true;
            present_count++;
        }
        /* After every step each crafted address is found exactly when it is present. */
        for (unsigned j = 0; j < CRAFTED; j++)
            if (held(addresses[j]) != present[j])
                failed_round = round + 1;
        if (live_table_count() != present_count + FILLERS)
            failed_round = round + 1;
    }
    CHECK_EQ_U64(failed_round, 0); /* 1 + the first round where the table disagreed */
    CHECK_EQ_U64(round, 3000);
    unsigned fillers_missing = 0;
    for (unsigned i = 0; i < FILLERS; i++)
        fillers_missing += !held(fillers[i]);
    CHECK_EQ_U64(fillers_missing, 0);
    clear_all(addresses, CRAFTED);
    clear_all(fillers, FILLERS);
    CHECK_EQ_U64(live_table_count(), 0);
}

/* ---- growth --------------------------------------------------------------------------- */

#define GROWTH_BLOCKS 60000u
static void test_growth(void)
{
    for (uintptr_t i = 0; i < GROWTH_BLOCKS; i++) {
        struct live_block block = make_block(0x10000 + 16 * i, i + 1, i);
        live_table_insert(&block, NULL);
    }
    CHECK_EQ_U64(live_table_count(), GROWTH_BLOCKS);

    /* Every block keeps its own record through the growths. */
    unsigned wrong = 0, missing = 0;
    for (uintptr_t i = 0; i < GROWTH_BLOCKS; i += 2) {
        struct live_block out, expected = make_block(0x10000 + 16 * i, i + 1, i);
        if (!live_table_take(0x10000 + 16 * i, &out))
            missing++;
        else if (!blocks_equal(&out, &expected))
            wrong++;
    }
    CHECK_EQ_U64(missing, 0);
    CHECK_EQ_U64(wrong, 0);
    CHECK_EQ_U64(live_table_count(), GROWTH_BLOCKS / 2);

    /* The odd ones are all still there, the even ones all gone. */
    unsigned odd_missing = 0, even_found = 0;
    for (uintptr_t i = 0; i < GROWTH_BLOCKS; i++) {
        bool found = held(0x10000 + 16 * i);
        if (i % 2 && !found)
            odd_missing++;
        if (i % 2 == 0 && found)
            even_found++;
    }
    CHECK_EQ_U64(odd_missing, 0);
    CHECK_EQ_U64(even_found, 0);

    for (uintptr_t i = 1; i < GROWTH_BLOCKS; i += 2) {
        struct live_block out;
        if (!live_table_take(0x10000 + 16 * i, &out) || out.size != i + 1)
            wrong++;
    }
    CHECK_EQ_U64(wrong, 0);
    CHECK_EQ_U64(live_table_count(), 0);
}

/* ---- a table that emptied gives its memory back ------------------------------------------ */

#define BURST_BASE 0x40000000u /* one region of 64 MiB: the 16 shards of one group */
#define BURST_BLOCKS 200000u
#define BURST_KEEP_EVERY 3125u /* 64 blocks kept */
#define BURST_SHARDS 16u
#define FIRST_SHARD_SLOTS 256u /* a page of slots: what an emptied shard keeps */
#define BURST_ROWS 3000u       /* 120,000 bytes of queued rows in one shard */

static struct trace_event free_event(uintptr_t address, uint64_t size, uint64_t time_ms);

static void test_sparse_shards_give_slots_back(void)
{
    struct event_log log = {0};
    /* the earlier tests' shards */
    live_table_collect(PASS_PERIODIC, 0, UINT64_MAX, &log, never_out_of_memory);
    size_t before = live_table_slots();
    /* Twice: the second burst grows back into the pages the first gave back. */
    for (unsigned round = 0; round < 2; round++) {
        for (uintptr_t i = 0; i < BURST_BLOCKS; i++) {
            struct live_block block = make_block(BURST_BASE + 32 * i, i + round, i);
            live_table_insert(&block, NULL);
        }
        CHECK_EQ_U64(live_table_count(), BURST_BLOCKS);
        CHECK_GE_U64(live_table_slots(), BURST_BLOCKS + BURST_BLOCKS * 3 / 17);
        unsigned missing = 0;
        for (uintptr_t i = 0; i < BURST_BLOCKS; i++) {
            struct live_block out;
            if (i % BURST_KEEP_EVERY != 0 && !live_table_take(BURST_BASE + 32 * i, &out))
                missing++;
        }
        CHECK_EQ_U64(missing, 0);
        live_table_collect(PASS_PERIODIC, 0, UINT64_MAX, &log, never_out_of_memory);
        CHECK_EQ_U64(log.count, 0); /* no block old enough for a row */
        CHECK_LE_U64(live_table_slots(), before + BURST_SHARDS * FIRST_SHARD_SLOTS);
        unsigned wrong = 0;
        for (uintptr_t i = 0; i < BURST_BLOCKS; i += BURST_KEEP_EVERY) {
            struct live_block out, expected = make_block(BURST_BASE + 32 * i, i + round, i);
            if (!live_table_take(BURST_BASE + 32 * i, &out) || !blocks_equal(&out, &expected))
                wrong++;
        }
        CHECK_EQ_U64(wrong, 0);
        CHECK_EQ_U64(live_table_count(), 0);

        /* A burst of queued rows in one shard, whose memory goes too: the next burst's rows
         * must all come out. */
        for (uint64_t i = 0; i < BURST_ROWS; i++) {
            struct trace_event row = free_event(BURST_BASE, i + round, i);
            live_table_queue_event(&row);
        }
        live_table_collect(PASS_PERIODIC, 0, UINT64_MAX, &log, never_out_of_memory);
        CHECK_EQ_U64(log.count, BURST_ROWS);
        unsigned out_of_order = 0;
        for (size_t i = 0; i < log.count && i < BURST_ROWS; i++)
            out_of_order += log.events[i].size != i + round;
        CHECK_EQ_U64(out_of_order, 0);
        log.count = 0;
    }
    event_log_release(&log);
}

/* ---- blocks that do not fit a 16-byte slot -------------------------------------------- */

static void check_row(const struct event_log *log, long index, const struct live_block *block,
                      enum event_kind kind, int line);

/* Takes address and checks that the record is exactly expected. */
static void check_taken(const struct live_block *expected, int line)
{
    struct live_block out;
    if (check_true(live_table_take(expected->address, &out), "taken", __FILE__, line))
        check_true(blocks_equal(&out, expected), "the record as inserted", __FILE__, line);
}

static void test_blocks_that_do_not_fit_a_slot(void)
{
    /* 2^19 bytes and more, an address not a multiple of 8, one at 2^48 and above. */
    struct live_block big = make_block(0x8000000, 1u << 19, 100);
    struct live_block huge = make_block(0x8000040, (uint64_t)1 << 40, 101);
    struct live_block odd = make_block(0x8000084, 12, 102);
    struct live_block high = make_block((uintptr_t)1 << 48, 16, 103);
    struct live_block small = make_block(0x80000c0, (1u << 19) - 1, 104); /* fits */
    big.flags = BLOCK_WRITTEN_AS_MALLOC;
    live_table_insert(&big, NULL);
    live_table_insert(&huge, NULL);
    live_table_insert(&odd, NULL);
    live_table_insert(&high, NULL);
    live_table_insert(&small, NULL);
    CHECK_EQ_U64(live_table_count(), 5);
    CHECK_FALSE(held(0x8000080)); /* the slot's key would be odd's address rounded down */
    CHECK_FALSE(held(0x8000088));

    /* The exit pass writes them like any other block. */
    struct event_log log = {0};
    live_table_collect(PASS_EXIT, 0, 0, &log, never_out_of_memory);
    CHECK_EQ_U64(log.count, 5);
    check_row(&log, find_row(&log, 0, big.address, EVENT_LEAK), &big, EVENT_LEAK, __LINE__);
    check_row(&log, find_row(&log, 0, huge.address, EVENT_LEAK), &huge, EVENT_LEAK, __LINE__);
    check_row(&log, find_row(&log, 0, odd.address, EVENT_LEAK), &odd, EVENT_LEAK, __LINE__);
    check_row(&log, find_row(&log, 0, high.address, EVENT_LEAK), &high, EVENT_LEAK, __LINE__);
    check_row(&log, find_row(&log, 0, small.address, EVENT_LEAK), &small, EVENT_LEAK, __LINE__);
    event_log_release(&log);
    big.flags |= BLOCK_WRITTEN_AT_EXIT;
    huge.flags |= BLOCK_WRITTEN_AT_EXIT;
    odd.flags |= BLOCK_WRITTEN_AT_EXIT;
    high.flags |= BLOCK_WRITTEN_AT_EXIT;
    small.flags |= BLOCK_WRITTEN_AT_EXIT;

    /* A resize moves a block between a slot and the spill list, both ways. */
    CHECK_TRUE(live_table_resize(small.address, (uint64_t)1 << 33));
    CHECK_TRUE(live_table_resize(big.address, 48));
    small.size = (uint64_t)1 << 33;
    big.size = 48;
    CHECK_EQ_U64(live_table_count(), 5);
    /* An insert at the address of a spilled block replaces it, and the other way round. */
    struct live_block over_huge = make_block(huge.address, 64, 200);
    struct live_block over_big = make_block(big.address, 1u << 20, 201);
    live_table_insert(&over_huge, NULL);
    live_table_insert(&over_big, NULL);
    CHECK_EQ_U64(live_table_count(), 5);
    check_taken(&over_huge, __LINE__);
    check_taken(&over_big, __LINE__);
    check_taken(&odd, __LINE__);
    check_taken(&high, __LINE__);
    check_taken(&small, __LINE__);
    CHECK_EQ_U64(live_table_count(), 0);

    /* Hundreds spilled in one shard (one page): each found, each taken once. */
    unsigned wrong = 0;
    for (uintptr_t i = 0; i < 200; i++) {
        struct live_block block = make_block(0x9000000 + 16 * i, (1u << 19) + i, i);
        live_table_insert(&block, NULL);
    }
    CHECK_EQ_U64(live_table_count(), 200);
    for (uintptr_t i = 0; i < 200; i += 2) {
        struct live_block out, expected = make_block(0x9000000 + 16 * i, (1u << 19) + i, i);
        wrong += !live_table_take(0x9000000 + 16 * i, &out) || !blocks_equal(&out, &expected);
    }
    for (uintptr_t i = 0; i < 200; i++)
        wrong += held(0x9000000 + 16 * i) != (i % 2 == 1);
    for (uintptr_t i = 1; i < 200; i += 2) {
        struct live_block out, expected = make_block(0x9000000 + 16 * i, (1u << 19) + i, i);
        wrong += !live_table_take(0x9000000 + 16 * i, &out) || !blocks_equal(&out, &expected);
    }
    CHECK_EQ_U64(wrong, 0);
    CHECK_EQ_U64(live_table_count(), 0);
}

/* ---- times and contexts ------------------------------------------------------------------ */

static void test_times_kept_exactly(void)
{
    /* A slot keeps the low 29 bits of the time, its context the rest. */
    static const uint64_t times[] = {0,
                                     (1u << 29) - 1,
                                     1u << 29,
                                     (1u << 29) + 1,
                                     1764121200123ull, /* 2025-11-26 */
                                     ((uint64_t)1 << 48) - 1};
    enum { TIMES = sizeof times / sizeof times[0] };
    for (unsigned i = 0; i < TIMES; i++) {
        struct live_block block = make_block(0xa000000 + 16 * i, 40, times[i]);
        live_table_insert(&block, NULL);
    }
    for (unsigned i = 0; i < TIMES; i++) {
        struct live_block expected = make_block(0xa000000 + 16 * i, 40, times[i]);
        check_taken(&expected, __LINE__);
    }
    CHECK_EQ_U64(live_table_count(), 0);
}

#define PLACES 100000u
static struct live_block block_of_place(uintptr_t i)
{
    struct live_block block = make_block(0xb000000 + 16 * i, 24, 7000);
    block.stack_id = (uint32_t)(1000000 + i);
    block.thread_id = (int32_t)(i % 3);
    return block;
}

static void test_contexts_renumbered(void)
{
    /* A block from each of 100,000 places (the contexts of a program that starts thread after
     * thread), then 90% of them freed: a periodic pass keeps only the contexts of the rest. */
    for (uintptr_t i = 0; i < PLACES; i++) {
        struct live_block block = block_of_place(i);
        live_table_insert(&block, NULL);
    }
    CHECK_GE_U64(block_context_count(), PLACES);
    unsigned wrong = 0;
    for (uintptr_t i = 0; i < PLACES; i++) {
        struct live_block out, expected = block_of_place(i);
        if (i % 10 != 0)
            wrong += !live_table_take(expected.address, &out) || !blocks_equal(&out, &expected);
    }
    CHECK_EQ_U64(wrong, 0);
    struct event_log log = {0};
    live_table_collect(PASS_PERIODIC, 0, UINT64_MAX, &log, never_out_of_memory);
    CHECK_EQ_U64(log.count, 0);
    CHECK_EQ_U64(block_context_count(), PLACES / 10);

    /* Places whose old ids this thread still has cached (the last ones inserted; the last
     * first, before a new entry takes their cache line) get new ids: one context each. */
    for (uintptr_t i = PLACES; i-- > PLACES - 100;) {
        struct live_block block = block_of_place(i);
        if (i % 10 != 0)
            live_table_insert(&block, NULL);
    }
    CHECK_EQ_U64(block_context_count(), PLACES / 10 + 90);
    /* As many new places again: their contexts take the ids and the memory of those dropped.
     * Every block left keeps its record. */
    for (uintptr_t i = PLACES; i < 2 * PLACES; i++) {
        struct live_block block = block_of_place(i);
        live_table_insert(&block, NULL);
    }
    for (uintptr_t i = 0; i < 2 * PLACES; i++) {
        struct live_block out, expected = block_of_place(i);
        if (i % 10 == 0 || i >= PLACES - 100)
            wrong += !live_table_take(expected.address, &out) || !blocks_equal(&out, &expected);
    }
    CHECK_EQ_U64(wrong, 0);
    CHECK_EQ_U64(live_table_count(), 0);
}

/* ---- random insert/take against a reference ----------------------------------------- */

#define UNIVERSE 30000u
#define OPERATIONS 400000u
static void test_random_against_reference(void)
{
    static uint64_t reference_size[UNIVERSE]; /* 0: not held */
    static uintptr_t addresses[UNIVERSE];
    size_t reference_count = 0;
    unsigned mismatches = 0;
    for (unsigned i = 0; i < UNIVERSE; i++) {
        /* 16-byte blocks and some larger gaps, as a real heap has. */
        addresses[i] = 0x600000000000ull + 16 * (uintptr_t)i + 4096 * (uintptr_t)(i / 7);
        reference_size[i] = 0;
    }

    for (unsigned op = 0; op < OPERATIONS; op++) {
        uint64_t r = prng();
        unsigned i = (unsigned)(r % UNIVERSE);
        unsigned choice = (unsigned)((r >> 32) % 8);
        struct live_block out;
        if (reference_size[i] != 0 && choice == 0) {
            /* Replace with a new record. */
            struct live_block block = make_block(addresses[i], op + 1, op);
            live_table_insert(&block, NULL);
            reference_size[i] = op + 1;
        } else if (reference_size[i] != 0) {
            bool taken = choice % 2 ? live_table_take(addresses[i], &out)
                                    : live_table_remove(addresses[i], &out, NULL);
            if (!taken || out.size != reference_size[i]
                || out.address != addresses[i])
                mismatches++;
            reference_size[i] = 0;
            reference_count--;
        } else if (choice < 6) {
            struct live_block block = make_block(addresses[i], op + 1, op);
            live_table_insert(&block, NULL);
            reference_size[i] = op + 1;
            reference_count++;
        } else if (live_table_take(addresses[i], &out)) {
            mismatches++; /* took a block that is not there */
        }
        if (op % 50000 == 49999) {
            if (!CHECK_EQ_U64(live_table_count(), reference_count))
                break;
            unsigned wrong = 0;
            for (unsigned j = 0; j < UNIVERSE; j++)
                wrong += held(addresses[j]) != (reference_size[j] != 0);
            if (!CHECK_EQ_U64(wrong, 0))
                break;
        }
    }
    CHECK_EQ_U64(mismatches, 0);
    CHECK_EQ_U64(live_table_count(), reference_count);
    CHECK_GE_U64(reference_count, 1000); /* the sequence did keep the table busy */

    for (unsigned i = 0; i < UNIVERSE; i++) {
        struct live_block out;
        if (reference_size[i] != 0
            && (!live_table_take(addresses[i], &out) || out.size != reference_size[i]))
            mismatches++;
    }
    CHECK_EQ_U64(mismatches, 0);
    CHECK_EQ_U64(live_table_count(), 0);
}

/* ---- live_table_collect --------------------------------------------------------------- */

static void check_row(const struct event_log *log, long index, const struct live_block *block,
                      enum event_kind kind, int line)
{
    if (!check_true(index >= 0, "row found", __FILE__, line))
        return;
    const struct trace_event *row = &log->events[index];
    check_u64(row->kind, kind, CHECK_EQ, "row kind", "kind", __FILE__, line);
    check_u64(row->address, block->address, CHECK_EQ, "row address", "block", __FILE__, line);
    check_u64(row->size, block->size, CHECK_EQ, "row size", "block", __FILE__, line);
    check_u64(row->time_ms, block->time_ms, CHECK_EQ, "row time", "block", __FILE__, line);
    check_u64(row->stack_id, block->stack_id, CHECK_EQ, "row stack", "block", __FILE__, line);
    check_i64(row->thread_id, block->thread_id, "row thread", "block", __FILE__, line);
    check_u64(row->entry_point, block->entry_point, CHECK_EQ, "row entry", "block", __FILE__,
              line);
}

static void test_collect_periodic_and_exit(void)
{
    struct live_block old = make_block(0x70000, 11, 1000);
    struct live_block young = make_block(0x70010, 22, 5000);
    struct live_block ignored = make_block(0x70020, 33, 1000);
    ignored.flags = BLOCK_IGNORED;
    struct live_block future = make_block(0x70030, 44, 9000); /* a clock that went back */
    struct live_block later_ignored = make_block(0x70040, 55, 1000);
    live_table_insert(&old, NULL);
    live_table_insert(&young, NULL);
    live_table_insert(&ignored, NULL);
    live_table_insert(&future, NULL);
    live_table_insert(&later_ignored, NULL);
    CHECK(live_table_add_flags(0x70040, BLOCK_IGNORED));

    /* now 6000, min age 2000: only the block of 1000 is old enough (age 5000). */
    struct event_log log = {0};
    live_table_collect(PASS_PERIODIC, 6000, 2000, &log, never_out_of_memory);
    if (CHECK_EQ_U64(log.count, 1))
        check_row(&log, 0, &old, EVENT_MALLOC, __LINE__);

    /* Written as malloc: a second pass does not write it again. */
    log.count = 0;
    live_table_collect(PASS_PERIODIC, 6000, 2000, &log, never_out_of_memory);
    CHECK_EQ_U64(log.count, 0);

    /* Age exactly min age counts (7000 - 5000 = 2000); 9000 is still in the future. */
    log.count = 0;
    live_table_collect(PASS_PERIODIC, 7000, 2000, &log, never_out_of_memory);
    if (CHECK_EQ_U64(log.count, 1))
        check_row(&log, 0, &young, EVENT_MALLOC, __LINE__);

    log.count = 0;
    live_table_collect(PASS_PERIODIC, 7000, 0, &log, never_out_of_memory);
    CHECK_EQ_U64(log.count, 0); /* future block: now < time, whatever the min age */

    log.count = 0;
    live_table_collect(PASS_PERIODIC, 9000, 0, &log, never_out_of_memory);
    if (CHECK_EQ_U64(log.count, 1))
        check_row(&log, 0, &future, EVENT_MALLOC, __LINE__);

    /* A new block after all that: young at the exit pass. */
    struct live_block last = make_block(0x70050, 66, 100000);
    live_table_insert(&last, NULL);

    /* Exit: a leak row for each block not ignored, written as malloc or not. */
    log.count = 0;
    live_table_collect(PASS_EXIT, 100001, 60000, &log, never_out_of_memory);
    CHECK_EQ_U64(log.count, 4);
    CHECK_EQ_U64(rows_of_kind(&log, EVENT_LEAK), 4);
    check_row(&log, find_row(&log, 0, 0x70000, EVENT_LEAK), &old, EVENT_LEAK, __LINE__);
    check_row(&log, find_row(&log, 0, 0x70010, EVENT_LEAK), &young, EVENT_LEAK, __LINE__);
    check_row(&log, find_row(&log, 0, 0x70030, EVENT_LEAK), &future, EVENT_LEAK, __LINE__);
    check_row(&log, find_row(&log, 0, 0x70050, EVENT_LEAK), &last, EVENT_LEAK, __LINE__);
    CHECK_EQ_I64(find_row(&log, 0, 0x70020, EVENT_LEAK), -1);
    CHECK_EQ_I64(find_row(&log, 0, 0x70040, EVENT_LEAK), -1);

    /* Written at exit: neither another exit pass nor a periodic pass writes them again. */
    log.count = 0;
    live_table_collect(PASS_EXIT, 200000, 0, &log, never_out_of_memory);
    CHECK_EQ_U64(log.count, 0);
    live_table_collect(PASS_PERIODIC, 200000, 0, &log, never_out_of_memory);
    CHECK_EQ_U64(log.count, 0); /* `last` was never written as malloc, but is at exit */

    /* The flags say what was written. */
    struct live_block out;
    if (CHECK(live_table_take(0x70000, &out)))
        CHECK_EQ_U64(out.flags, BLOCK_WRITTEN_AS_MALLOC | BLOCK_WRITTEN_AT_EXIT);
    if (CHECK(live_table_take(0x70020, &out)))
        CHECK_EQ_U64(out.flags, BLOCK_IGNORED);
    if (CHECK(live_table_take(0x70040, &out)))
        CHECK_EQ_U64(out.flags, BLOCK_IGNORED);
    if (CHECK(live_table_take(0x70050, &out)))
        CHECK_EQ_U64(out.flags, BLOCK_WRITTEN_AT_EXIT);
    uintptr_t rest[] = {0x70010, 0x70030};
    clear_all(rest, 2);
    CHECK_EQ_U64(live_table_count(), 0);
    event_log_release(&log);
}

static void test_collect_appends(void)
{
    struct event_log log = {0};
    struct trace_event first = {.address = 0xdead0, .size = 5, .kind = EVENT_FREE};
    CHECK(event_log_push(&log, &first));
    struct live_block block = make_block(0x80000, 7, 10);
    live_table_insert(&block, NULL);
    live_table_collect(PASS_PERIODIC, 10, 0, &log, never_out_of_memory);
    if (CHECK_EQ_U64(log.count, 2)) {
        CHECK_EQ_U64(log.events[0].address, 0xdead0); /* what was there stays first */
        check_row(&log, 1, &block, EVENT_MALLOC, __LINE__);
    }
    uintptr_t all[] = {0x80000};
    clear_all(all, 1);
    event_log_release(&log);
}

static struct trace_event free_event(uintptr_t address, uint64_t size, uint64_t time_ms)
{
    struct trace_event event = {
        .address = address,
        .size = size,
        .time_ms = time_ms,
        .stack_id = (uint32_t)size + 100,
        .thread_id = 4242,
        .entry_point = ENTRY_FREE,
        .kind = EVENT_FREE,
    };
    return event;
}

static void test_queued_events(void)
{
    /* Three free rows for one address (so one shard), and one elsewhere. */
    struct trace_event f1 = free_event(0x90000, 1, 100);
    struct trace_event f2 = free_event(0x90000, 2, 200);
    struct trace_event f3 = free_event(0x90000, 3, 300);
    struct trace_event other = free_event(0x123450, 9, 150);
    CHECK_EQ_U64(live_table_queue_event(&f1), 1);
    CHECK_EQ_U64(live_table_queue_event(&f2), 2);
    CHECK_EQ_U64(live_table_queue_event(&f3), 3);
    CHECK_GE_U64(live_table_queue_event(&other), 1);
    CHECK_EQ_U64(live_table_count(), 0); /* queued rows are no blocks */

    /* The address is allocated again: its malloc row follows the queued free rows. */
    struct live_block again = make_block(0x90000, 77, 400);
    live_table_insert(&again, NULL);

    struct event_log log = {0};
    live_table_collect(PASS_PERIODIC, 1000, 0, &log, never_out_of_memory);
    CHECK_EQ_U64(log.count, 5);
    CHECK_EQ_U64(rows_of_kind(&log, EVENT_FREE), 4);
    long i1 = find_row(&log, 0, 0x90000, EVENT_FREE);
    long i2 = i1 >= 0 ? find_row(&log, (size_t)i1 + 1, 0x90000, EVENT_FREE) : -1;
    long i3 = i2 >= 0 ? find_row(&log, (size_t)i2 + 1, 0x90000, EVENT_FREE) : -1;
    long im = find_row(&log, 0, 0x90000, EVENT_MALLOC);
    if (CHECK(i1 >= 0 && i2 > i1 && i3 > i2 && im > i3)) { /* first come, first written */
        const struct trace_event *rows = log.events;
        CHECK_EQ_U64(rows[i1].size, 1);
        CHECK_EQ_U64(rows[i1].time_ms, 100);
        CHECK_EQ_U64(rows[i1].stack_id, 101);
        CHECK_EQ_I64(rows[i1].thread_id, 4242);
        CHECK_EQ_U64(rows[i1].entry_point, ENTRY_FREE);
        CHECK_EQ_U64(rows[i2].size, 2);
        CHECK_EQ_U64(rows[i3].size, 3);
        CHECK_EQ_U64(rows[i3].time_ms, 300);
        check_row(&log, im, &again, EVENT_MALLOC, __LINE__);
    }
    long io = find_row(&log, 0, 0x123450, EVENT_FREE);
    if (CHECK(io >= 0))
        CHECK_EQ_U64(log.events[io].size, 9);

    /* Drained: the next pass has no free row, and a new queue starts at 1. */
    log.count = 0;
    live_table_collect(PASS_PERIODIC, 2000, 0, &log, never_out_of_memory);
    CHECK_EQ_U64(log.count, 0);
    CHECK_EQ_U64(live_table_queue_event(&f1), 1);

    /* The exit pass writes queued rows too, before the leaks of their shard. */
    log.count = 0;
    live_table_collect(PASS_EXIT, 3000, 0, &log, never_out_of_memory);
    CHECK_EQ_U64(log.count, 2);
    long free_index = find_row(&log, 0, 0x90000, EVENT_FREE);
    long leak_index = find_row(&log, 0, 0x90000, EVENT_LEAK);
    CHECK(free_index >= 0 && leak_index > free_index);
    log.count = 0;
    live_table_collect(PASS_EXIT, 3000, 0, &log, never_out_of_memory);
    CHECK_EQ_U64(log.count, 0);

    /* Many rows in one shard: all of them, in order. */
    for (unsigned i = 0; i < 5000; i++) {
        struct trace_event event = free_event(0xa0000, i, i);
        if (live_table_queue_event(&event) != i + 1) {
            CHECK_EQ_U64(live_table_queue_event(&event), i + 1);
            break;
        }
    }
    log.count = 0;
    live_table_collect(PASS_PERIODIC, 0, 0, &log, never_out_of_memory);
    unsigned out_of_order = 0;
    if (CHECK_EQ_U64(log.count, 5000))
        for (unsigned i = 0; i < 5000; i++)
            out_of_order += log.events[i].size != i || log.events[i].address != 0xa0000;
    CHECK_EQ_U64(out_of_order, 0);

    uintptr_t all[] = {0x90000};
    clear_all(all, 1);
    CHECK_EQ_U64(live_table_count(), 0);
    event_log_release(&log);
}

/* ---- threads -------------------------------------------------------------------------- */

#define THREADS 4
#define PER_THREAD 40000u
static pthread_barrier_t start_line;

static uintptr_t thread_address(unsigned thread, unsigned i)
{
    return 0x100000000000ull * (thread + 1) + 16 * (uintptr_t)i;
}

static void *worker(void *argument)
{
    unsigned thread = (unsigned)(uintptr_t)argument;
    uintptr_t errors = 0;
    pthread_barrier_wait(&start_line);
    for (unsigned i = 0; i < PER_THREAD; i++) {
        struct live_block block = make_block(thread_address(thread, i), i + 1, thread);
        live_table_insert(&block, NULL);
        /* Take every other block soon after, while the others still insert. */
        if (i % 2 == 1) {
            struct live_block out;
            unsigned j = i - 1;
            if (!live_table_take(thread_address(thread, j), &out) || out.size != j + 1
                || out.time_ms != thread)
                errors++;
        }
    }
    for (unsigned i = 0; i < PER_THREAD; i++)
        errors += held(thread_address(thread, i)) != (i % 2 == 1);
    return (void *)errors;
}

static void test_threads(void)
{
    pthread_t threads[THREADS];
    pthread_barrier_init(&start_line, NULL, THREADS);
    for (unsigned t = 0; t < THREADS; t++)
        pthread_create(&threads[t], NULL, worker, (void *)(uintptr_t)t);
    uintptr_t errors = 0;
    for (unsigned t = 0; t < THREADS; t++) {
        void *result;
        pthread_join(threads[t], &result);
        errors += (uintptr_t)result;
    }
    pthread_barrier_destroy(&start_line);
    CHECK_EQ_U64(errors, 0);
    CHECK_EQ_U64(live_table_count(), THREADS * PER_THREAD / 2);

    unsigned wrong = 0;
    for (unsigned t = 0; t < THREADS; t++) {
        for (unsigned i = 1; i < PER_THREAD; i += 2) {
            struct live_block out;
            if (!live_table_take(thread_address(t, i), &out) || out.size != i + 1
                || out.time_ms != t)
                wrong++;
        }
    }
    CHECK_EQ_U64(wrong, 0);
    CHECK_EQ_U64(live_table_count(), 0);
}

int main(void)
{
    alarm(30);
    flusher_lock();
    RUN_TEST(test_empty_table); /* first: no shard has slots yet */
    RUN_TEST(test_insert_take);
    RUN_TEST(test_remove);
    RUN_TEST(test_remove_releases_under_the_lock);
    RUN_TEST(test_replace);
    RUN_TEST(test_context_hint);
    RUN_TEST(test_add_flags);
    RUN_TEST(test_wrapping_probe_runs);
    RUN_TEST(test_growth);
    RUN_TEST(test_sparse_shards_give_slots_back);
    RUN_TEST(test_blocks_that_do_not_fit_a_slot);
    RUN_TEST(test_times_kept_exactly);
    RUN_TEST(test_contexts_renumbered);
    RUN_TEST(test_random_against_reference);
    RUN_TEST(test_collect_periodic_and_exit);
    RUN_TEST(test_collect_appends);
    RUN_TEST(test_queued_events);
    RUN_TEST(test_threads);
    CHECK_EQ_U64(live_table_count(), 0);
    flusher_unlock();
    return check_exit_status();
}
