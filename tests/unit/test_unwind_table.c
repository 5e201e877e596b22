/* test_unwind_table.c: the compact unwind tables (eh_frame.h, unwind_table.h) and the walk
 * that uses them (backtrace.c). Rows read from a hand-built .eh_frame must be exactly the
 * expected ones; stacks taken with the tables must be exactly libunwind's, from code with
 * and without frame pointers, through libc, in a thread, and from a signal handler (where
 * the tables give way to libunwind); and each frame of those stacks must have come from a
 * table, not from the fallback. */
#define _GNU_SOURCE
#include <alloca.h>
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backtrace.h"
#include "check.h"
#include "eh_frame.h"
#include "unwind_table.h"

/* ---- rows from a hand-built section ---------------------------------------------------- */

struct bytes {
    uint8_t data[512];
    size_t size;
};

static void put(struct bytes *out, const void *data, size_t size)
{
    if (size == 0)
        return;
    memcpy(out->data + out->size, data, size);
    out->size += size;
}

static void put_u8(struct bytes *out, uint8_t value)
{
    put(out, &value, 1);
}

static void put_u32(struct bytes *out, uint32_t value)
{
    put(out, &value, 4);
}

static void put_u64(struct bytes *out, uint64_t value)
{
    put(out, &value, 8);
}

/* A CIE with the x86-64 start state (CFA = rsp + 8, return address at CFA - 8), absolute
 * 8-byte FDE addresses; augmentation "zR" or, for signal frames, "zRS". Returns its offset. */
static size_t put_cie(struct bytes *out, bool signal_frame)
{
    size_t start = out->size;
    static const uint8_t x86_64_start[] = {0x0c, 7, 8, 0x90, 1};
    const char *augmentation = signal_frame ? "zRS" : "zR";
    put_u32(out, 0); /* length, set below */
    put_u32(out, 0); /* CIE id */
    put_u8(out, 1);  /* version */
    put(out, augmentation, strlen(augmentation) + 1);
    put_u8(out, 1);    /* code alignment */
    put_u8(out, 0x78); /* data alignment: -8 */
    put_u8(out, 16);   /* return address register */
    put_u8(out, 1);    /* augmentation data: the FDE pointer encoding */
    put_u8(out, 0x00); /* absptr */
    put(out, x86_64_start, sizeof x86_64_start);
    while ((out->size - start) % 8 != 0)
        put_u8(out, 0); /* DW_CFA_nop */
    uint32_t length = (uint32_t)(out->size - start - 4);
    memcpy(out->data + start, &length, 4);
    return start;
}

static void put_fde(struct bytes *out, size_t cie, uint64_t begin, uint64_t size,
                    const uint8_t *instructions, size_t count)
{
    size_t start = out->size;
    put_u32(out, 0);
    put_u32(out, (uint32_t)(out->size - cie)); /* back to the CIE from this field */
    put_u64(out, begin);
    put_u64(out, size);
    put_u8(out, 0); /* no augmentation data */
    put(out, instructions, count);
    while ((out->size - start) % 8 != 0)
        put_u8(out, 0);
    uint32_t length = (uint32_t)(out->size - start - 4);
    memcpy(out->data + start, &length, 4);
}

struct row {
    uintptr_t pc;
    struct unwind_rule rule;
};

struct rows {
    struct row items[32];
    size_t count;
};

static bool collect(void *context, uintptr_t pc, struct unwind_rule rule)
{
    struct rows *rows = context;
    if (rows->count == 32)
        return false;
    rows->items[rows->count++] = (struct row){pc, rule};
    return true;
}

static void check_rows(const struct rows *rows, const struct row *expected, size_t count)
{
    CHECK_EQ_U64(rows->count, count);
    for (size_t i = 0; i < count && i < rows->count; i++) {
        CHECK_EQ_U64(rows->items[i].pc, expected[i].pc);
        CHECK_EQ_U64(rows->items[i].rule.kind, expected[i].rule.kind);
        CHECK_EQ_U64((uint64_t)(int64_t)rows->items[i].rule.cfa_offset,
                     (uint64_t)(int64_t)expected[i].rule.cfa_offset);
        CHECK_EQ_U64((uint64_t)(int64_t)rows->items[i].rule.saved_fp_slot,
                     (uint64_t)(int64_t)expected[i].rule.saved_fp_slot);
    }
}

#define SP(offset, slot) {offset, UNWIND_CFA_FROM_SP, slot, 0}
#define FP(offset, slot) {offset, UNWIND_CFA_FROM_FP, slot, 0}
#define NOT_COVERED {0, UNWIND_NOT_COVERED, 0, 0}
#define OUTERMOST {0, UNWIND_OUTERMOST, 0, 0}

static void build_section(struct bytes *section)
{
    memset(section, 0, sizeof *section);
    size_t cie = put_cie(section, false);
    /* A prologue that saves rbp and makes it the CFA register, an epilogue between
     * remember_state and restore_state. */
    static const uint8_t function[] = {
        0x41, 0x0e, 16, 0x86, 2, /* +1: CFA = rsp + 16, rbp at CFA - 16 */
        0x43, 0x0d, 6,           /* +3: CFA = rbp + 16 */
        0x02, 0x30, 0x0a,        /* +0x30: remember_state */
        0x0c, 7, 8, 0xc6,        /* CFA = rsp + 8, rbp restored */
        0x41, 0x0b,              /* +1: restore_state */
    };
    put_fde(section, cie, 0x1000, 0x40, function, sizeof function);
    /* Lower in memory than the one before: rows come out in address order. */
    static const uint8_t expression[] = {0x44, 0x0f, 2, 0x77, 0x08}; /* +4: CFA by expression */
    put_fde(section, cie, 0x800, 0x10, expression, sizeof expression);
    size_t signal_cie = put_cie(section, true);
    put_fde(section, signal_cie, 0x1040, 0x20, NULL, 0);
    static const uint8_t outermost[] = {0x07, 16}; /* the return address is undefined */
    put_fde(section, cie, 0x2000, 0x8, outermost, sizeof outermost);
    put_u32(section, 0); /* the terminator */
}

static void test_rows_of_a_section(void)
{
    struct bytes section;
    build_section(&section);
    struct rows rows = {.count = 0};
    CHECK(eh_frame_read(section.data, section.data + section.size, collect, &rows));
    static const struct row expected[] = {
        {0x800, SP(8, 0)},   {0x804, NOT_COVERED}, {0x1000, SP(8, 0)},
        {0x1001, SP(16, -2)}, {0x1004, FP(16, -2)}, {0x1034, SP(8, 0)},
        {0x1035, FP(16, -2)}, {0x1040, NOT_COVERED}, {0x2000, OUTERMOST},
        {0x2008, NOT_COVERED},
    };
    check_rows(&rows, expected, sizeof expected / sizeof *expected);
}

static void test_rows_of_a_cut_section(void)
{
    struct bytes section;
    build_section(&section);
    /* Cut inside the last FDE: the ones before it still give their rows. */
    struct rows rows = {.count = 0};
    CHECK(eh_frame_read(section.data, section.data + section.size - 12, collect, &rows));
    CHECK_EQ_U64(rows.count, 8);
    /* Garbage gives no row and reads nothing outside the section. */
    uint8_t garbage[64];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t)(i * 37 + 11);
    rows.count = 0;
    eh_frame_read(garbage, garbage + sizeof garbage, collect, &rows);
    CHECK_EQ_U64(rows.count, 0);
}

static bool ascending(const struct rows *rows)
{
    for (size_t i = 1; i < rows->count; i++)
        if (rows->items[i].pc <= rows->items[i - 1].pc)
            return false;
    return true;
}

/* Corrupt call frame information (a damaged or hostile library): bytes changed at random,
 * each section in a heap block of its exact size, so that the AddressSanitizer build of this
 * test sees any read outside it. Rows still come in ascending order. */
static void test_rows_of_mutated_sections(void)
{
    struct bytes section;
    build_section(&section);
    uint64_t random = 0x2545f4914f6cdd1dull;
    size_t unordered = 0;
    for (int round = 0; round < 20000; round++) {
        uint8_t *copy = malloc(section.size);
        if (!CHECK(copy != NULL))
            return;
        memcpy(copy, section.data, section.size);
        for (int change = 0; change < 1 + round % 4; change++) {
            random = random * 6364136223846793005ull + 1442695040888963407ull;
            copy[(random >> 33) % section.size] = (uint8_t)(random >> 17);
        }
        struct rows rows = {.count = 0};
        eh_frame_read(copy, copy + section.size, collect, &rows);
        unordered += !ascending(&rows);
        free(copy);
    }
    CHECK_EQ_U64(unordered, 0);
}

/* Two FDEs an .eh_frame_hdr lists with one start (gold lists a function folded with an
 * identical one by each): the table's look-up finds the last, as libunwind's does, and that
 * one gives the rows. */
static void test_rows_of_listed_fdes_that_start_together(void)
{
    struct bytes image;
    memset(&image, 0, sizeof image);
    put_u8(&image, 1);    /* version */
    put_u8(&image, 0x1b); /* .eh_frame as pcrel sdata4 */
    put_u8(&image, 0x03); /* the count as udata4 */
    put_u8(&image, 0x3b); /* the table as datarel sdata4 */
    size_t pointer_at = image.size;
    put_u32(&image, 0);
    put_u32(&image, 2);
    size_t table_at = image.size;
    for (int i = 0; i < 4; i++)
        put_u32(&image, 0);
    size_t section_at = image.size;
    size_t cie = put_cie(&image, false);
    static const uint8_t small[] = {0x41, 0x0e, 16}; /* +1: CFA = rsp + 16 */
    static const uint8_t large[] = {0x42, 0x0e, 32}; /* +2: CFA = rsp + 32 */
    size_t fdes[2] = {image.size, 0};
    put_fde(&image, cie, 0x1000, 0x10, small, sizeof small);
    fdes[1] = image.size;
    put_fde(&image, cie, 0x1000, 0x10, large, sizeof large);
    put_u32(&image, 0);
    uint32_t pointer = (uint32_t)(section_at - pointer_at);
    memcpy(image.data + pointer_at, &pointer, 4);
    for (int i = 0; i < 2; i++) {
        uint32_t entry[2] = {0x40, (uint32_t)fdes[i]}; /* one start for both */
        memcpy(image.data + table_at + 8 * (size_t)i, entry, sizeof entry);
    }
    struct eh_frame_index index;
    if (!CHECK(eh_frame_index_open(image.data, image.data + image.size, &index)))
        return;
    size_t position = 0;
    CHECK(eh_frame_index_find(&index, (uintptr_t)image.data + 0x40, &position));
    CHECK_EQ_U64(position, 1);
    struct rows rows = {.count = 0};
    CHECK(eh_frame_read_listed(&index, 0, 32, collect, &rows));
    static const struct row expected[] = {
        {0x1000, SP(8, 0)}, {0x1002, SP(32, 0)}, {0x1010, NOT_COVERED},
    };
    check_rows(&rows, expected, sizeof expected / sizeof *expected);
}

/* ---- rows a chunk of listed FDEs at a time ---------------------------------------------- */

struct row_list {
    struct row *items;
    size_t count;
    size_t capacity;
};

static bool collect_all(void *context, uintptr_t pc, struct unwind_rule rule)
{
    struct row_list *rows = context;
    if (rows->count == rows->capacity) {
        size_t capacity = rows->capacity ? 2 * rows->capacity : 1024;
        struct row *items = realloc(rows->items, capacity * sizeof *items);
        if (items == NULL)
            return false;
        rows->items = items;
        rows->capacity = capacity;
    }
    rows->items[rows->count++] = (struct row){pc, rule};
    return true;
}

/* The rule of the last row at or below pc; NOT_COVERED below the first. */
static struct unwind_rule rule_at(const struct row_list *rows, uintptr_t pc)
{
    size_t low = 0, high = rows->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (rows->items[middle].pc <= pc)
            low = middle + 1;
        else
            high = middle;
    }
    return low > 0 ? rows->items[low - 1].rule : UNWIND_RULE_NOT_COVERED;
}

static bool same_rule(struct unwind_rule a, struct unwind_rule b)
{
    return a.kind == b.kind && a.cfa_offset == b.cfa_offset && a.saved_fp_slot == b.saved_fp_slot;
}

static uintptr_t listed_start(const struct eh_frame_index *index, size_t position)
{
    int32_t offset;
    memcpy(&offset, index->table + 8 * position, sizeof offset);
    return (uintptr_t)index->header + (uintptr_t)(intptr_t)offset;
}

struct listed_totals {
    unsigned modules;
    size_t places;
    size_t different;
    size_t misplaced; /* a pc whose FDE eh_frame_index_find did not place in the chunk */
};

/* Every module's rows, read whole from its section and a chunk of 32 listed FDEs at a time,
 * compared at each row of either and the byte before it. */
static int compare_listed(struct dl_phdr_info *info, size_t size, void *totals_pointer)
{
    (void)size;
    struct listed_totals *totals = totals_pointer;
    const uint8_t *header = NULL, *limit = NULL;
    for (unsigned i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        if (segment->p_type == PT_GNU_EH_FRAME)
            header = (const uint8_t *)(info->dlpi_addr + segment->p_vaddr);
        if (segment->p_type == PT_LOAD
            && (limit == NULL || info->dlpi_addr + segment->p_vaddr + segment->p_memsz
                                     > (uintptr_t)limit))
            limit = (const uint8_t *)(info->dlpi_addr + segment->p_vaddr + segment->p_memsz);
    }
    struct eh_frame_index index;
    const uint8_t *start, *end;
    if (header == NULL || !eh_frame_index_open(header, limit, &index)
        || !eh_frame_bounds(header, limit, &start, &end))
        return 0;
    struct row_list whole = {NULL, 0, 0}, chunk = {NULL, 0, 0};
    if (!CHECK(eh_frame_read(start, end, collect_all, &whole)))
        return 0;
    totals->modules++;
    for (size_t first = 0; first < index.count; first += 32) {
        chunk.count = 0;
        CHECK(eh_frame_read_listed(&index, first, first + 32, collect_all, &chunk));
        uintptr_t from = listed_start(&index, first);
        uintptr_t to = first + 32 < index.count ? listed_start(&index, first + 32) : UINTPTR_MAX;
        for (size_t side = 0; side < 2; side++) {
            const struct row_list *places = side == 0 ? &whole : &chunk;
            for (size_t i = 0; i < places->count; i++) {
                for (uintptr_t pc = places->items[i].pc - 1; pc <= places->items[i].pc; pc++) {
                    size_t position;
                    if (pc < from || pc >= to)
                        continue;
                    totals->places++;
                    totals->misplaced += !eh_frame_index_find(&index, pc, &position)
                                         || position / 32 != first / 32;
                    totals->different += !same_rule(rule_at(&whole, pc), rule_at(&chunk, pc));
                }
            }
        }
    }
    free(whole.items);
    free(chunk.items);
    return 0;
}

static void test_rows_read_a_chunk_of_listed_fdes_at_a_time(void)
{
    struct listed_totals totals = {0, 0, 0, 0};
    dl_iterate_phdr(compare_listed, &totals);
    CHECK_GE_U64(totals.modules, 5); /* the program, libc, libdw, libelf, the loader... */
    CHECK_GE_U64(totals.places, 100000);
    CHECK_EQ_U64(totals.different, 0);
    CHECK_EQ_U64(totals.misplaced, 0);
}

/* ---- stacks against libunwind ----------------------------------------------------------- */

#define MAX_FRAMES 64

struct capture {
    void *tracer_frames[BACKTRACE_TRACER_FRAMES]; /* backtrace_capture's, the hook's, ... */
    void *frames[MAX_FRAMES];
    uint32_t count;
    bool kept; /* the word backtrace_capture handed out held what the capture before left */
    uint32_t kept_value; /* what it held */
    struct backtrace_kept *kept_words;
    uint32_t rules_cached; /* after the walk, of frames whose rules were evicted before it */
};

/* What each capture leaves in the word backtrace_capture hands out: a new one for each
 * sequence of captures, so that a word one left is not taken for one kept since. */
static uint32_t kept_mark = 0x6b657074u;

/* The most frames the hook asks for. */
static uint32_t capture_max = MAX_FRAMES;

/* The tracer's layout: an entry point calls a hook, which calls backtrace_capture. Both keep
 * a frame pointer, as the tracer's do: a walk finds its call site through them. */
__attribute__((noinline, optimize("no-omit-frame-pointer")))
static uint32_t hook(struct capture *into)
{
    void **all;
    struct backtrace_kept *kept;
    uint32_t count = backtrace_capture(capture_max, &all, &kept);
    into->kept_value = kept->stack_id;
    into->kept = kept->stack_id == kept_mark;
    into->kept_words = kept;
    kept->stack_id = kept_mark;
    memcpy(into->tracer_frames, all, sizeof into->tracer_frames);
    memcpy(into->frames, all + BACKTRACE_TRACER_FRAMES, count * sizeof *into->frames);
    __asm__ volatile("" ::: "memory");
    return count;
}

__attribute__((noinline, optimize("no-omit-frame-pointer")))
static uint32_t entry_point(struct capture *into)
{
    uint32_t count = hook(into);
    __asm__ volatile("" ::: "memory");
    return count;
}

/* Takes the stack twice from one call site, with the tables and with libunwind. */
__attribute__((noinline)) static void capture_both(struct capture *tables,
                                                   struct capture *libunwind)
{
    for (int pass = 0; pass < 2; pass++) {
        struct capture *into = pass == 0 ? tables : libunwind;
        backtrace_init(pass == 0 ? UNWINDER_TABLES : UNWINDER_LIBUNWIND, MAX_FRAMES);
        into->count = entry_point(into);
    }
    __asm__ volatile("" ::: "memory");
}

/* Frame 0 is capture_both's, at two call sites (the compiler unrolls the loop). */
static bool same_stack(const struct capture *a, const struct capture *b)
{
    return a->count == b->count && a->count > 1
           && memcmp(a->frames + 1, b->frames + 1, (a->count - 1) * sizeof(void *)) == 0;
}

/* Every frame of a stack the tables gave has a rule in them: the walk did not fall back. */
static bool covered_by_tables(const struct capture *stack)
{
    for (uint32_t i = 0; i < stack->count; i++) {
        struct unwind_rule rule = unwind_table_find(unwind_table_begin_walk(),
                                                    (uintptr_t)stack->frames[i] - 1);
        if (rule.kind == UNWIND_NOT_COVERED)
            return false;
    }
    return true;
}

struct scenario {
    struct capture tables;
    struct capture libunwind;
};

static void print_stacks(const struct scenario *scenario, const char *what)
{
    const struct capture *tables = &scenario->tables, *libunwind = &scenario->libunwind;
    fprintf(stderr, "  %s: %u frames with the tables, %u with libunwind\n", what,
            tables->count, libunwind->count);
    for (uint32_t i = 0; i < tables->count || i < libunwind->count; i++)
        fprintf(stderr, "    %p %p\n", i < tables->count ? tables->frames[i] : NULL,
                i < libunwind->count ? libunwind->frames[i] : NULL);
}

static void compare(const struct scenario *scenario, bool expect_covered, const char *what)
{
    if (!CHECK(same_stack(&scenario->tables, &scenario->libunwind)))
        print_stacks(scenario, what);
    CHECK_GE_U64(scenario->tables.count, 4);
    if (!CHECK_EQ_U64(covered_by_tables(&scenario->tables), expect_covered))
        fprintf(stderr, "  %s: coverage\n", what);
}

/* -O1 keeps no frame pointer here: CFA rules on the stack pointer. */
__attribute__((noinline)) static void recurse(struct scenario *scenario, int depth)
{
    if (depth == 0)
        capture_both(&scenario->tables, &scenario->libunwind);
    else
        recurse(scenario, depth - 1);
    __asm__ volatile("" ::: "memory");
}

/* A variable-length frame: the CFA moves to the frame pointer. */
__attribute__((noinline)) static void variable_frame(struct scenario *scenario, int size)
{
    volatile char *buffer = alloca((size_t)size);
    buffer[0] = 1;
    recurse(scenario, size % 5);
    __asm__ volatile("" ::"r"(buffer) : "memory");
}

static void test_stacks_in_the_program(void)
{
    struct scenario scenario;
    recurse(&scenario, 12);
    compare(&scenario, true, "recursion");
    variable_frame(&scenario, 77);
    compare(&scenario, true, "variable frame");
}

static struct scenario *sorting;

/* Called by libc's qsort: the stack goes through libc's frames. */
static int compare_ints(const void *a, const void *b)
{
    if (sorting != NULL) {
        recurse(sorting, 2);
        sorting = NULL;
    }
    return *(const int *)a - *(const int *)b;
}

static void test_stacks_through_libc(void)
{
    struct scenario scenario;
    int values[] = {3, 1, 2};
    sorting = &scenario;
    qsort(values, 3, sizeof *values, compare_ints);
    compare(&scenario, true, "qsort");
}

static void *thread_body(void *argument)
{
    recurse(argument, 3);
    return NULL;
}

static void test_stacks_in_a_thread(void)
{
    struct scenario scenario;
    pthread_t thread;
    if (!CHECK_EQ_U64(pthread_create(&thread, NULL, thread_body, &scenario), 0))
        return;
    pthread_join(thread, NULL);
    compare(&scenario, true, "thread");
}

static struct scenario *in_handler;

static void handler(int signal_number)
{
    (void)signal_number;
    recurse(in_handler, 1);
}

static void test_stacks_in_a_signal_handler(void)
{
    struct scenario scenario;
    in_handler = &scenario;
    signal(SIGUSR1, handler);
    raise(SIGUSR1);
    signal(SIGUSR1, SIG_DFL);
    /* The signal trampoline has no rule the tables can hold: libunwind took the stack. */
    compare(&scenario, false, "signal handler");
}

/* Two callers with the same frame, called from one site: a walk from common() meets the last
 * walk's frame there in the same state, and must see that the return address above it
 * changed. */
__attribute__((noinline)) static void common(struct capture *into)
{
    into->count = entry_point(into);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void path_a(struct capture *into)
{
    common(into);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void path_b(struct capture *into)
{
    common(into);
    __asm__ volatile("" ::: "memory");
}

#define SEQUENCE 6

/* With a frame pointer, the frames above have the same rbp in every round (at -O1 the loop
 * could keep its counter there), so the walks meet in the same state from the first frame. */
__attribute__((noinline, optimize("no-omit-frame-pointer"))) static void take_sequence(struct capture *captures, const int *order,
                                                    void (*const *paths)(struct capture *))
{
    kept_mark++;
    for (int i = 0; i < SEQUENCE; i++)
        paths[order[i]](&captures[i]);
}

/* The same stacks but for frame 3: the test function's, at two call sites. */
static bool same_but_frame_3(const struct capture *a, const struct capture *b)
{
    return a->count == b->count && a->count > 4
           && memcmp(a->frames, b->frames, 3 * sizeof(void *)) == 0
           && memcmp(a->frames + 4, b->frames + 4, (a->count - 4) * sizeof(void *)) == 0;
}

static void test_stacks_replayed_from_the_site_walks(void)
{
    static const int order[SEQUENCE] = {0, 0, 1, 0, 1, 1};
    void (*const paths[2])(struct capture *) = {path_a, path_b};
    static struct capture tables[SEQUENCE], libunwind[SEQUENCE];
    backtrace_init(UNWINDER_TABLES, MAX_FRAMES);
    take_sequence(tables, order, paths);
    backtrace_init(UNWINDER_LIBUNWIND, MAX_FRAMES);
    take_sequence(libunwind, order, paths);
    for (int i = 0; i < SEQUENCE; i++) {
        if (!CHECK(same_but_frame_3(&tables[i], &libunwind[i])))
            fprintf(stderr, "  capture %d differs from libunwind's\n", i);
        CHECK_EQ_U64(libunwind[i].kept, false);
    }
    /* One call site (common's), whose walks are kept one a stack: a stack met before is
     * replayed from its own walk, with its own kept word, after another one came between. */
    CHECK_EQ_U64(tables[0].kept, false);
    CHECK_EQ_U64(tables[1].kept, true);
    CHECK_EQ_U64(tables[2].kept, false);
    CHECK_EQ_U64(tables[3].kept, true);
    CHECK_EQ_U64(tables[4].kept, true);
    CHECK_EQ_U64(tables[5].kept, true);
    for (int i = 1; i < SEQUENCE; i++)
        CHECK(tables[i].kept_words == tables[order[i] == 0 ? 0 : 2].kept_words);
    CHECK(tables[0].kept_words != tables[2].kept_words);
    CHECK(tables[1].frames[1] != tables[2].frames[1]); /* path_a's, then path_b's */
}

/* Two call sites of the entry point, taken in turn: each walk replays the last walk from its
 * own site, and keeps its word. */
__attribute__((noinline, optimize("no-omit-frame-pointer")))
static void site_a(struct capture *into)
{
    into->count = entry_point(into);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline, optimize("no-omit-frame-pointer")))
static void site_b(struct capture *into)
{
    into->count = entry_point(into);
    __asm__ volatile("" ::: "memory");
}

/* take_sequence, shift bytes further down the stack. */
__attribute__((noinline)) static void take_sequence_shifted(struct capture *captures,
                                                            const int *order,
                                                            void (*const *paths)(struct capture *),
                                                            size_t shift)
{
    volatile char *pad = alloca(shift);
    pad[0] = 0;
    take_sequence(captures, order, paths);
    __asm__ volatile("" ::"r"(pad) : "memory");
}

static void test_stacks_replayed_per_call_site(void)
{
    static const int order[SEQUENCE] = {0, 1, 0, 1, 0, 1};
    void (*const sites[2])(struct capture *) = {site_a, site_b};
    static struct capture tables[SEQUENCE], libunwind[SEQUENCE];
    /* A site is picked by its return address and stack pointer: two sites share a memo one
     * time in WALK_MEMO_SITES, and then keep their walks side by side. */
    backtrace_init(UNWINDER_TABLES, MAX_FRAMES);
    take_sequence_shifted(tables, order, sites, 16);
    CHECK(tables[0].kept_words != tables[1].kept_words);
    backtrace_init(UNWINDER_LIBUNWIND, MAX_FRAMES);
    take_sequence_shifted(libunwind, order, sites, 16);
    for (int i = 0; i < SEQUENCE; i++) {
        if (!CHECK(same_but_frame_3(&tables[i], &libunwind[i])))
            fprintf(stderr, "  capture %d differs from libunwind's\n", i);
        CHECK(tables[i].kept_words == tables[order[i]].kept_words);
        if (!CHECK_EQ_U64(tables[i].kept, i >= 2))
            fprintf(stderr, "  capture %d\n", i);
    }
    CHECK(tables[0].frames[0] != tables[1].frames[0]); /* site_a's, then site_b's */
}

/* Calls fn(into) with rbp set to rbp_value, and returns what fn returns. The first keeps its
 * CFA on the stack pointer: the value is garbage that no step reads, as in code built without
 * frame pointers (rbp is then one more register). The second takes its CFA from rbp, as if its
 * frame were where rbp_value points. */
uint32_t call_with_rbp(struct capture *into, uint32_t (*fn)(struct capture *),
                       uintptr_t rbp_value);
uint32_t call_with_frame_at(struct capture *into, uint32_t (*fn)(struct capture *),
                            uintptr_t rbp_value);
/* Calls fn(into), its CFA taken from the rbp it was called with (the frame there is taken for
 * its own): the rbp of frames that keep it, read again several frames up. */
uint32_t frame_at_rbp(struct capture *into, uint32_t (*fn)(struct capture *));
__asm__(".text\n"
        "call_with_rbp:\n"
        ".cfi_startproc\n"
        "push %rbp\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbp, -16\n"
        "mov %rdx, %rbp\n"
        "call *%rsi\n"
        "pop %rbp\n"
        ".cfi_def_cfa_offset 8\n"
        "ret\n"
        ".cfi_endproc\n"
        "frame_at_rbp:\n"
        ".cfi_startproc\n"
        ".cfi_def_cfa %rbp, 16\n"
        ".cfi_offset %rbp, -16\n"
        "sub $8, %rsp\n"
        "call *%rsi\n"
        "add $8, %rsp\n"
        "ret\n"
        ".cfi_endproc\n"
        "call_with_frame_at:\n"
        ".cfi_startproc\n"
        "push %rbp\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbp, -16\n"
        "mov %rdx, %rbp\n"
        ".cfi_def_cfa %rbp, 16\n"
        "call *%rsi\n"
        "pop %rbp\n"
        ".cfi_def_cfa %rsp, 8\n"
        "ret\n"
        ".cfi_endproc\n");

#define RBP_CAPTURES 4

/* The rule cache's entry for frame of capture, counting the tracer's frames (from the first
 * after backtrace_capture's: the first is the walker's own, whose rule no walk looks up). */
static struct unwind_cache_entry *rule_cached(const struct capture *capture, uint32_t frame)
{
    void *pc = frame + 1 < BACKTRACE_TRACER_FRAMES ? capture->tracer_frames[frame + 1]
                                                   : capture->frames[frame + 1 - BACKTRACE_TRACER_FRAMES];
    return unwind_cache_entry_of(unwind_table_begin_walk(), (uintptr_t)pc - 1);
}

/* Runs take with the tables (evicting rules) and with libunwind, from one call site: a loop
 * of an unknown count is not unrolled into two. */
static volatile int unwinders = 2;

__attribute__((noinline)) static void take_with_each_unwinder(void (*take)(struct capture *, bool),
                                                              struct capture *tables,
                                                              struct capture *libunwind)
{
    for (int pass = 0; pass < unwinders; pass++) {
        backtrace_init(pass == 0 ? UNWINDER_TABLES : UNWINDER_LIBUNWIND, MAX_FRAMES);
        take(pass == 0 ? tables : libunwind, pass == 0);
        __asm__ volatile("" ::: "memory");
    }
}

/* From one call site, each time with another garbage rbp. With the tables, the rules of each
 * stack's frames are evicted after it, and counted first if its walk looked them up again; but
 * for the outermost frame's, which every walk looks up to end. */
__attribute__((noinline, optimize("no-omit-frame-pointer")))
static void take_with_garbage_rbp(struct capture *captures, bool evict)
{
    kept_mark++;
    for (int i = 0; i < RBP_CAPTURES; i++) {
        captures[i].count = call_with_rbp(&captures[i], entry_point, 0x1000u * (uintptr_t)(i + 1));
        captures[i].rules_cached = 0;
        for (uint32_t frame = 0; evict && frame + 2 < BACKTRACE_TRACER_FRAMES + captures[i].count;
             frame++) {
            captures[i].rules_cached += rule_cached(&captures[i], frame)->pc != 0;
            rule_cached(&captures[i], frame)->pc = 0;
        }
    }
}

/* A frame's rbp has to match only where the frames after it need it: here none does, and the
 * walks after the first look up no rule but the outermost frame's (the cache entries of the
 * others stay empty after the first walk emptied them). */
static void test_stacks_replayed_past_an_unused_frame_pointer(void)
{
    static struct capture tables[RBP_CAPTURES], libunwind[RBP_CAPTURES];
    take_with_each_unwinder(take_with_garbage_rbp, tables, libunwind);
    for (int i = 0; i < RBP_CAPTURES; i++) {
        if (!CHECK(tables[i].count == libunwind[i].count
                   && memcmp(tables[i].frames, libunwind[i].frames,
                             tables[i].count * sizeof(void *)) == 0))
            fprintf(stderr, "  capture %d differs from libunwind's\n", i);
        if (!CHECK_EQ_U64(tables[i].kept, i > 0))
            fprintf(stderr, "  capture %d\n", i);
    }
    for (int i = 1; i < RBP_CAPTURES; i++)
        if (!CHECK_EQ_U64(tables[i].rules_cached, 0))
            fprintf(stderr, "  capture %d looked up rules\n", i);
}

/* call_with_frame_at's frame is taken to be the caller's (one frame above it), or the caller's
 * caller's (two), in turn, from one call site: the frames above it differ while its stack
 * pointer and return address do not, and only its rbp tells them apart. */
__attribute__((noinline, optimize("no-omit-frame-pointer")))
static void take_with_frame_pointers(struct capture *captures)
{
    kept_mark++;
    uintptr_t *own = __builtin_frame_address(0);
    uintptr_t above[2] = {(uintptr_t)own, own[0]};
    for (int i = 0; i < RBP_CAPTURES; i++)
        captures[i].count = call_with_frame_at(&captures[i], entry_point, above[i % 2]);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline, optimize("no-omit-frame-pointer")))
static void take_with_frame_pointers_below(struct capture *captures, bool evict)
{
    (void)evict;
    take_with_frame_pointers(captures);
    __asm__ volatile("" ::: "memory");
}

static void test_stacks_not_replayed_past_a_used_frame_pointer(void)
{
    static struct capture tables[RBP_CAPTURES], libunwind[RBP_CAPTURES];
    take_with_each_unwinder(take_with_frame_pointers_below, tables, libunwind);
    for (int i = 0; i < RBP_CAPTURES; i++) {
        if (!CHECK(tables[i].count == libunwind[i].count
                   && memcmp(tables[i].frames, libunwind[i].frames,
                             tables[i].count * sizeof(void *)) == 0)) {
            fprintf(stderr, "  capture %d differs from libunwind's\n", i);
            struct scenario both = {tables[i], libunwind[i]};
            print_stacks(&both, "frame pointers");
        }
        /* Kept from the third: the site keeps both walks. */
        if (!CHECK_EQ_U64(tables[i].kept, i >= 2))
            fprintf(stderr, "  capture %d\n", i);
    }
    /* The frame above call_with_frame_at's is its caller's caller, then one more up. */
    CHECK_EQ_U64(libunwind[0].count, libunwind[1].count + 1);
    CHECK(libunwind[0].frames[1] != libunwind[1].frames[1]);
}

/* ---- random call paths ------------------------------------------------------------------ */

/* Frames of a path, innermost last: built without a frame pointer (two sizes), with one,
 * setting rbp to garbage or to the frame of an earlier STEP_FP (with the CFA on the stack
 * pointer: frames above keep it in rbp), taking the CFA from the rbp they are called with, or
 * setting rbp to an earlier STEP_FP's frame and taking the CFA from it. */
enum path_step {
    STEP_NO_FP,
    STEP_NO_FP_PADDED,
    STEP_FP,
    STEP_GARBAGE_RBP,
    STEP_RBP_AT_FRAME,
    STEP_FRAME_AT_RBP,
    STEP_FRAME_AT,
    STEP_KINDS,
};

#define PATH_STEPS 14

struct path {
    uint8_t steps[PATH_STEPS];
    uintptr_t arguments[PATH_STEPS]; /* the garbage, or which earlier step's frame */
    int count;
};

/* Where a path is walked: the path, the frames of its STEP_FP frames, and what the walk's
 * capture gave, with libunwind's stack taken right after it. */
static struct path_walk {
    struct path path;
    int depth;
    uintptr_t frames_at[PATH_STEPS];
    struct capture tables;
    void *libunwind[MAX_FRAMES + 8];
    int libunwind_count;
} path_walk;

static int (*libunwind_backtrace)(void **frames, int max);

static uint64_t path_random_state = 0x9e3779b97f4a7c15ull;

static uint64_t path_random(void)
{
    path_random_state ^= path_random_state << 13;
    path_random_state ^= path_random_state >> 7;
    path_random_state ^= path_random_state << 17;
    return path_random_state;
}

static uint32_t walk_path(struct capture *into);

__attribute__((noinline, optimize("no-omit-frame-pointer")))
static uint32_t path_hook(struct capture *into)
{
    uint32_t count = into->count = hook(into);
    path_walk.libunwind_count = libunwind_backtrace(path_walk.libunwind, MAX_FRAMES + 8);
    __asm__ volatile("" ::: "memory");
    return count;
}

__attribute__((noinline, optimize("omit-frame-pointer")))
static uint32_t path_no_fp(struct capture *into)
{
    uint32_t count = walk_path(into);
    __asm__ volatile("" ::: "memory");
    return count;
}

__attribute__((noinline, optimize("omit-frame-pointer")))
static uint32_t path_no_fp_padded(struct capture *into)
{
    volatile char pad[40];
    pad[0] = 1;
    uint32_t count = walk_path(into);
    __asm__ volatile("" ::"r"(pad) : "memory");
    return count;
}

__attribute__((noinline, optimize("no-omit-frame-pointer")))
static uint32_t path_fp(struct capture *into)
{
    path_walk.frames_at[path_walk.depth - 1] = (uintptr_t)__builtin_frame_address(0);
    uint32_t count = walk_path(into);
    __asm__ volatile("" ::: "memory");
    return count;
}

/* The next step of the path: a function that does not touch rbp, so that what a step left
 * there reaches the next. */
__attribute__((noinline, optimize("omit-frame-pointer")))
static uint32_t walk_path(struct capture *into)
{
    int at = path_walk.depth++;
    if (at == path_walk.path.count)
        return path_hook(into);
    uintptr_t argument = path_walk.path.arguments[at];
    uint32_t count;
    switch ((enum path_step)path_walk.path.steps[at]) {
    case STEP_NO_FP:
        count = path_no_fp(into);
        break;
    case STEP_NO_FP_PADDED:
        count = path_no_fp_padded(into);
        break;
    case STEP_FP:
        count = path_fp(into);
        break;
    case STEP_GARBAGE_RBP:
        count = call_with_rbp(into, walk_path, argument);
        break;
    case STEP_RBP_AT_FRAME:
        count = call_with_rbp(into, walk_path, path_walk.frames_at[argument]);
        break;
    case STEP_FRAME_AT_RBP:
        count = frame_at_rbp(into, walk_path);
        break;
    default:
        count = call_with_frame_at(into, walk_path, path_walk.frames_at[argument]);
        break;
    }
    __asm__ volatile("" ::: "memory");
    return count;
}

/* A garbage rbp, or an earlier STEP_FP step's. */
static uintptr_t step_argument(const struct path *path, int at)
{
    if (path->steps[at] == STEP_GARBAGE_RBP)
        return 0x10000 + (path_random() % 64) * 0x1000;
    if (path->steps[at] != STEP_RBP_AT_FRAME && path->steps[at] != STEP_FRAME_AT)
        return 0;
    int frames[PATH_STEPS], count = 0;
    for (int i = 0; i < at; i++)
        if (path->steps[i] == STEP_FP)
            frames[count++] = i;
    return (uintptr_t)frames[path_random() % (uint64_t)count];
}

/* A path where rbp holds a frame wherever a step takes a CFA from it. */
static void make_path(struct path *path)
{
    path->count = 1 + (int)(path_random() % PATH_STEPS);
    bool rbp_is_a_frame = false, any_fp = false;
    for (int i = 0; i < path->count; i++) {
        enum path_step step;
        do
            step = (enum path_step)(path_random() % STEP_KINDS);
        while ((step == STEP_FRAME_AT_RBP && !rbp_is_a_frame)
               || ((step == STEP_RBP_AT_FRAME || step == STEP_FRAME_AT) && !any_fp));
        path->steps[i] = (uint8_t)step;
        path->arguments[i] = step_argument(path, i);
        any_fp = any_fp || step == STEP_FP;
        if (step == STEP_FP || step == STEP_RBP_AT_FRAME || step == STEP_FRAME_AT)
            rbp_is_a_frame = true;
        else if (step == STEP_GARBAGE_RBP)
            rbp_is_a_frame = false;
    }
}

/* The same path with other garbage, or other frames, in rbp. */
static void vary_path(struct path *path)
{
    for (int i = 0; i < path->count; i++)
        if (path_random() % 2)
            path->arguments[i] = step_argument(path, i);
}

/* Walks path at one of three depths of the stack. */
__attribute__((noinline, optimize("no-omit-frame-pointer")))
static void walk_path_shifted(const struct path *path, uint32_t max, size_t shift)
{
    volatile char *pad = alloca(16 + 16 * shift);
    pad[0] = 0;
    path_walk.path = *path;
    path_walk.depth = 0;
    capture_max = max;
    walk_path(&path_walk.tables);
    capture_max = MAX_FRAMES;
    __asm__ volatile("" ::"r"(pad) : "memory");
}

/* What a kept word held last, and the stack it stood for. */
struct kept_stack {
    const struct backtrace_kept *word;
    uint32_t mark;
    struct capture stack;
};

#define PATHS 24
#define PATH_WALKS 1000000
#define KEPT_WORDS (WALK_MEMO_BUFFERS + 1) /* and the word of no memo, for a walk libunwind took */

/* Random paths through code with and without frame pointers, rbp set to garbage and to
 * frames, CFAs taken from it several frames up; now and then another path, another rbp, or a
 * walk cut short by max. Every stack must be libunwind's, and every kept word must stand for
 * the stack it was kept with. */
static void test_stacks_of_random_call_paths(void)
{
    void *library = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    libunwind_backtrace = library ? (int (*)(void **, int))dlsym(library, "unw_backtrace") : NULL;
    if (!CHECK(libunwind_backtrace != NULL))
        return;
    backtrace_init(UNWINDER_TABLES, MAX_FRAMES);
    static struct path paths[PATHS];
    static struct kept_stack kept[KEPT_WORDS];
    uint32_t kept_count = 0;
    for (int i = 0; i < PATHS; i++)
        make_path(&paths[i]);
    uint64_t different = 0, wrongly_kept = 0, kept_right = 0;
    for (uint32_t walk = 0; walk < PATH_WALKS; walk++) {
        if (path_random() % 500 == 0)
            make_path(&paths[path_random() % PATHS]);
        struct path *path = &paths[path_random() % PATHS];
        if (path_random() % 3 == 0)
            vary_path(path);
        uint32_t max = path_random() % 4 == 0 ? 1 + (uint32_t)(path_random() % MAX_FRAMES)
                                               : MAX_FRAMES;
        walk_path_shifted(path, max, path_random() % 3);
        const struct capture *tables = &path_walk.tables;
        /* libunwind's first frame is path_hook's own, the entry point's */
        uint32_t expected = (uint32_t)path_walk.libunwind_count - 1;
        expected = expected < max ? expected : max;
        if (tables->count != expected
            || memcmp(tables->frames, path_walk.libunwind + 1, expected * sizeof(void *)) != 0)
            if (different++ < 3)
                fprintf(stderr, "  walk %u: %u frames, libunwind %u (max %u)\n", walk,
                        tables->count, expected, max);
        struct kept_stack *last = NULL;
        for (uint32_t i = 0; i < kept_count && last == NULL; i++)
            if (kept[i].word == tables->kept_words)
                last = &kept[i];
        if (last == NULL && CHECK(kept_count < KEPT_WORDS)) {
            last = &kept[kept_count++];
            last->word = tables->kept_words;
        }
        if (last != NULL) {
            /* A word not emptied holds the mark left with the stack before. */
            bool kept_stack = tables->kept_value != 0;
            if (kept_stack
                && (tables->kept_value != last->mark || last->stack.count != tables->count
                    || memcmp(last->stack.frames, tables->frames,
                              tables->count * sizeof(void *)) != 0))
                if (wrongly_kept++ < 3)
                    fprintf(stderr, "  walk %u: a stack kept that was not\n", walk);
            kept_right += kept_stack;
            tables->kept_words->stack_id = ++kept_mark;
            last->mark = kept_mark;
            last->stack = *tables;
        }
    }
    CHECK_EQ_U64(different, 0);
    CHECK_EQ_U64(wrongly_kept, 0);
    CHECK(kept_right > PATH_WALKS / 10); /* the memo was used: most paths come back */
}

int main(void)
{
    RUN_TEST(test_rows_of_a_section);
    RUN_TEST(test_rows_of_a_cut_section);
    RUN_TEST(test_rows_of_mutated_sections);
    RUN_TEST(test_rows_of_listed_fdes_that_start_together);
    RUN_TEST(test_rows_read_a_chunk_of_listed_fdes_at_a_time);
    RUN_TEST(test_stacks_in_the_program);
    RUN_TEST(test_stacks_through_libc);
    RUN_TEST(test_stacks_in_a_thread);
    RUN_TEST(test_stacks_in_a_signal_handler);
    RUN_TEST(test_stacks_replayed_from_the_site_walks);
    RUN_TEST(test_stacks_replayed_per_call_site);
    RUN_TEST(test_stacks_replayed_past_an_unused_frame_pointer);
    RUN_TEST(test_stacks_not_replayed_past_a_used_frame_pointer);
    RUN_TEST(test_stacks_of_random_call_paths);
    return check_exit_status();
}
