/* test_stack_table.c: interning call stacks (stack_table.h). The table is process-wide and
 * never forgets a stack, so counts are checked as differences. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "stack_table.h"

#define FRAME(x) ((void *)(uintptr_t)(x))

/* Whether record holds exactly frames[0..depth). */
static bool record_is(const struct stack_record *record, void *const *frames, uint32_t depth)
{
    return record != NULL && record->depth == depth
           && memcmp(record->frames, frames, depth * sizeof *frames) == 0;
}

static void test_basic(void)
{
    void *a[3] = {FRAME(0x401000), FRAME(0x402000), FRAME(0x403000)};
    void *a_copy[3] = {FRAME(0x401000), FRAME(0x402000), FRAME(0x403000)};
    void *b[3] = {FRAME(0x401000), FRAME(0x402000), FRAME(0x403001)}; /* last frame differs */
    void *c[3] = {FRAME(0x403000), FRAME(0x402000), FRAME(0x401000)}; /* a reversed */

    uint32_t id_a = stack_table_intern(a, 3);
    uint32_t count = stack_table_count(); /* the empty stack and a, at least */
    CHECK_GE_U64(count, 2);
    CHECK_NE_U64(id_a, STACK_ID_EMPTY);
    CHECK_EQ_U64(stack_table_intern(a, 3), id_a);
    CHECK_EQ_U64(stack_table_intern(a_copy, 3), id_a); /* by content, not by pointer */
    CHECK_EQ_U64(stack_table_count(), count);

    uint32_t id_b = stack_table_intern(b, 3);
    uint32_t id_c = stack_table_intern(c, 3);
    CHECK_NE_U64(id_b, STACK_ID_EMPTY);
    CHECK_NE_U64(id_c, STACK_ID_EMPTY);
    CHECK_NE_U64(id_b, id_a);
    CHECK_NE_U64(id_c, id_a);
    CHECK_NE_U64(id_c, id_b);
    CHECK_EQ_U64(stack_table_count(), count + 2);

    /* Prefixes of a are stacks of their own: the depth is part of the stack. */
    uint32_t id_a2 = stack_table_intern(a, 2);
    uint32_t id_a1 = stack_table_intern(a, 1);
    CHECK_NE_U64(id_a2, STACK_ID_EMPTY);
    CHECK_NE_U64(id_a1, STACK_ID_EMPTY);
    CHECK_NE_U64(id_a2, id_a);
    CHECK_NE_U64(id_a1, id_a);
    CHECK_NE_U64(id_a1, id_a2);
    CHECK_EQ_U64(stack_table_intern(a, 2), id_a2);
    CHECK_EQ_U64(stack_table_intern(a, 1), id_a1);
    CHECK_EQ_U64(stack_table_count(), count + 4);

    /* Depth 0 is the empty stack, whatever the frames pointer. */
    CHECK_EQ_U64(stack_table_intern(a, 0), STACK_ID_EMPTY);
    CHECK_EQ_U64(stack_table_intern(NULL, 0), STACK_ID_EMPTY);
    CHECK_EQ_U64(stack_table_count(), count + 4);

    /* The records hold the frames, innermost first, and no JSON yet. */
    struct stack_record *record = stack_table_get(id_a);
    if (CHECK(record_is(record, a, 3))) {
        CHECK_EQ_PTR(record->frames[0], FRAME(0x401000));
        CHECK_EQ_PTR(record->frames[2], FRAME(0x403000));
        CHECK_EQ_PTR(record->json, NULL);
    }
    CHECK(record_is(stack_table_get(id_b), b, 3));
    CHECK(record_is(stack_table_get(id_c), c, 3));
    CHECK(record_is(stack_table_get(id_a2), a, 2));
    CHECK(record_is(stack_table_get(id_a1), a, 1));
    /* A record stays where it is: get is stable. */
    CHECK_EQ_PTR(stack_table_get(id_a), record);
    if (CHECK(stack_table_get(STACK_ID_EMPTY) != NULL))
        CHECK_EQ_U64(stack_table_get(STACK_ID_EMPTY)->depth, 0);

    /* A deep stack, the deepest MALLOC_TRACE_DEPTH allows. */
    void *deep[256];
    for (unsigned i = 0; i < 256; i++)
        deep[i] = FRAME(0x500000 + 0x40 * i);
    uint32_t id_deep = stack_table_intern(deep, 256);
    CHECK_NE_U64(id_deep, STACK_ID_EMPTY);
    CHECK(record_is(stack_table_get(id_deep), deep, 256));
    CHECK_EQ_U64(stack_table_intern(deep, 256), id_deep);
    CHECK_NE_U64(stack_table_intern(deep, 255), id_deep);
    CHECK_EQ_U64(stack_table_count(), count + 6);

    /* Frames near the top of the address space and the null frame are frames too. */
    void *odd[2] = {FRAME(UINTPTR_MAX), FRAME(0)};
    uint32_t id_odd = stack_table_intern(odd, 2);
    CHECK_NE_U64(id_odd, STACK_ID_EMPTY);
    CHECK(record_is(stack_table_get(id_odd), odd, 2));
    CHECK_EQ_U64(stack_table_intern(odd, 2), id_odd);
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Many stacks: with this many, bucket chains are long enough to be walked. */
#define MANY 200000u
static void test_many(void)
{
    static uint32_t ids[MANY], sorted[MANY];
    uint32_t before = stack_table_count();
    for (uint32_t i = 0; i < MANY; i++) {
        void *frames[2] = {FRAME(0x7f0000000000ull + 16 * (uintptr_t)i), FRAME(0x400123)};
        ids[i] = stack_table_intern(frames, 1 + i % 2);
    }
    CHECK_EQ_U64(stack_table_count(), before + MANY);

    /* All distinct and none empty. */
    memcpy(sorted, ids, sizeof ids);
    qsort(sorted, MANY, sizeof *sorted, compare_u32);
    unsigned duplicates = 0;
    for (uint32_t i = 1; i < MANY; i++)
        duplicates += sorted[i] == sorted[i - 1];
    CHECK_EQ_U64(duplicates, 0);
    CHECK_NE_U64(sorted[0], STACK_ID_EMPTY);

    /* Interned again (the lock-free path): the same ids, the same records. */
    unsigned changed = 0, wrong_records = 0;
    for (uint32_t i = 0; i < MANY; i++) {
        void *frames[2] = {FRAME(0x7f0000000000ull + 16 * (uintptr_t)i), FRAME(0x400123)};
        changed += stack_table_intern(frames, 1 + i % 2) != ids[i];
        wrong_records += !record_is(stack_table_get(ids[i]), frames, 1 + i % 2);
    }
    CHECK_EQ_U64(changed, 0);
    CHECK_EQ_U64(wrong_records, 0);
    CHECK_EQ_U64(stack_table_count(), before + MANY);
}

/* ---- threads -------------------------------------------------------------------------- */

#define THREADS 4
#define SHARED 6000u /* stacks every thread interns */
#define OWN 2000u    /* stacks only one thread interns */
static pthread_barrier_t start_line;
static uint32_t thread_ids[THREADS][SHARED];
static uint32_t own_ids[THREADS][OWN];

/* Shared stack k: groups of 8 sharing their frames, of depths 1..8 (prefixes). */
static uint32_t shared_stack(uint32_t k, void **frames)
{
    uint32_t depth = 1 + k % 8;
    for (uint32_t j = 0; j < depth; j++)
        frames[j] = FRAME(0x10000000 + 0x1000 * (uintptr_t)(k / 8) + 8 * j);
    return depth;
}

static void *worker(void *argument)
{
    unsigned thread = (unsigned)(uintptr_t)argument;
    void *frames[8];
    pthread_barrier_wait(&start_line);
    /* Each thread starts at another place and some go backwards, so that they meet. */
    for (uint32_t n = 0; n < SHARED; n++) {
        uint32_t k = (n + thread * (SHARED / THREADS)) % SHARED;
        if (thread % 2)
            k = SHARED - 1 - k;
        uint32_t depth = shared_stack(k, frames);
        thread_ids[thread][k] = stack_table_intern(frames, depth);
        if (n % 3 == 0 && n / 3 < OWN) {
            void *own[3] = {FRAME(0x20000000 + 0x100000 * (uintptr_t)thread), FRAME(n),
                            FRAME(thread)};
            own_ids[thread][n / 3] = stack_table_intern(own, 3);
        }
    }
    return NULL;
}

static void test_threads(void)
{
    uint32_t before = stack_table_count();
    pthread_t threads[THREADS];
    pthread_barrier_init(&start_line, NULL, THREADS);
    for (unsigned t = 0; t < THREADS; t++)
        pthread_create(&threads[t], NULL, worker, (void *)(uintptr_t)t);
    for (unsigned t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    pthread_barrier_destroy(&start_line);

    /* Every thread got the same id for each shared stack, and each stack was added once. */
    unsigned disagreements = 0, empty = 0, wrong_records = 0;
    for (uint32_t k = 0; k < SHARED; k++) {
        void *frames[8];
        uint32_t depth = shared_stack(k, frames);
        for (unsigned t = 1; t < THREADS; t++)
            disagreements += thread_ids[t][k] != thread_ids[0][k];
        empty += thread_ids[0][k] == STACK_ID_EMPTY;
        wrong_records += !record_is(stack_table_get(thread_ids[0][k]), frames, depth);
        disagreements += stack_table_intern(frames, depth) != thread_ids[0][k];
    }
    for (unsigned t = 0; t < THREADS; t++) {
        for (uint32_t n = 0; n < OWN; n++) {
            void *own[3] = {FRAME(0x20000000 + 0x100000 * (uintptr_t)t), FRAME(3 * n),
                            FRAME(t)};
            empty += own_ids[t][n] == STACK_ID_EMPTY;
            wrong_records += !record_is(stack_table_get(own_ids[t][n]), own, 3);
        }
    }
    CHECK_EQ_U64(disagreements, 0);
    CHECK_EQ_U64(empty, 0);
    CHECK_EQ_U64(wrong_records, 0);
    CHECK_EQ_U64(stack_table_count(), before + SHARED + THREADS * OWN);

    /* Distinct stacks got distinct ids. */
    static uint32_t all[SHARED + THREADS * OWN];
    memcpy(all, thread_ids[0], sizeof thread_ids[0]);
    memcpy(all + SHARED, own_ids, sizeof own_ids);
    qsort(all, SHARED + THREADS * OWN, sizeof *all, compare_u32);
    unsigned duplicates = 0;
    for (uint32_t i = 1; i < SHARED + THREADS * OWN; i++)
        duplicates += all[i] == all[i - 1];
    CHECK_EQ_U64(duplicates, 0);
}

/* Run first, in a fresh process: stack_table.h says the count includes the empty stack and
 * that get() gives the record of any id intern() returned, 0 included. */
static void test_fresh_table(void)
{
    CHECK_EQ_U64(stack_table_count(), 1);
    uint32_t id = stack_table_intern(NULL, 0);
    CHECK_EQ_U64(id, STACK_ID_EMPTY);
    CHECK_EQ_U64(stack_table_count(), 1);
    if (CHECK(stack_table_get(id) != NULL))
        CHECK_EQ_U64(stack_table_get(id)->depth, 0);
}

int main(void)
{
    alarm(30);
    RUN_TEST(test_fresh_table);
    RUN_TEST(test_basic);
    RUN_TEST(test_many);
    RUN_TEST(test_threads);
    return check_exit_status();
}
