/* test_memory_map.c: the raw /proc/self/maps reader (memory_map.h).
 *
 * The reader's answers are compared with what the kernel says, read back as text: the
 * mappings of a stack variable and of the program's static data are stable between the two
 * reads; anonymous regions made here, far below every other mapping, get distinct
 * protections page by page, so that the kernel merges none of their pages and puts none of
 * its own memory into their holes: each page is a mapping of its own, exactly.
 *
 * The core's constructor runs here too (the tracer starts its flusher thread): nothing below
 * depends on it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "check.h"
#include "memory_map.h"

/* ---- helpers -------------------------------------------------------------------------- */

static size_t page;

/* Static data of the program: .data, .bss and .rodata. */
static volatile int data_variable = 42;
static volatile char bss_buffer[64];
static const char rodata_text[] = "a string that only ever gets read, so it lives in .rodata";

/* /proc/self/maps as text (big enough for any process of this test). */
static char maps_text[1 << 20];

/* One line of the text: the mapping that contains address, parsed with sscanf (a second,
 * independent parser). False when no line contains it. */
struct text_mapping {
    uintptr_t start, end;
    char perms[8];
};

static bool text_find(const char *text, uintptr_t address, struct text_mapping *out)
{
    for (const char *line = text; *line != '\0';) {
        unsigned long start, end;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3 && start <= address
            && address < end) {
            out->start = start;
            out->end = end;
            memcpy(out->perms, perms, sizeof perms);
            return true;
        }
        const char *newline = strchr(line, '\n');
        if (newline == NULL)
            break;
        line = newline + 1;
    }
    return false;
}

static bool read_maps_text(void)
{
    long length = memory_map_read_small_file("/proc/self/maps", maps_text, sizeof maps_text);
    return length > 0 && (size_t)length < sizeof maps_text - 1;
}

/* The mapping of address must be exactly the text's line for it. */
static void check_against_text(const struct memory_map *map, uintptr_t address, int line)
{
    struct text_mapping expected;
    if (!check_true(text_find(maps_text, address, &expected), "address in the text", __FILE__,
                    line))
        return;
    const struct mapping *found = memory_map_find(map, address);
    if (!check_true(found != NULL, "memory_map_find(address) != NULL", __FILE__, line))
        return;
    check_u64(found->start, expected.start, CHECK_EQ, "found->start", "text start", __FILE__,
              line);
    check_u64(found->end, expected.end, CHECK_EQ, "found->end", "text end", __FILE__, line);
    check_u64(found->readable, expected.perms[0] == 'r', CHECK_EQ, "found->readable",
              "text perms[0] == 'r'", __FILE__, line);
    check_u64(found->writable, expected.perms[1] == 'w', CHECK_EQ, "found->writable",
              "text perms[1] == 'w'", __FILE__, line);
}

/* A region of pages with the given protections, one character per page:
 * 'n' PROT_NONE, 'r' read, 'w' write only, 'b' read and write. */
static char *map_pages(const char *protections)
{
    size_t count = strlen(protections);
    /* Far below everything else (at 8 GiB and up): the kernel puts new mappings, the
     * reader's own included, at the highest free addresses, so the holes made here stay
     * holes and no neighbour merges with the region. */
    char *region = MAP_FAILED;
    for (uintptr_t hint = (uintptr_t)8 << 30;
         region == MAP_FAILED && hint < ((uintptr_t)64 << 30); hint += (uintptr_t)1 << 30) {
        region = mmap((void *)hint, count * page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (region != MAP_FAILED && region != (char *)hint) { /* an old kernel: a hint only */
            munmap(region, count * page);
            region = MAP_FAILED;
        }
    }
    if (region == MAP_FAILED)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        region[i * page] = 1; /* touched: backed, as a program's data is */
        int prot = protections[i] == 'n'   ? PROT_NONE
                   : protections[i] == 'r' ? PROT_READ
                   : protections[i] == 'w' ? PROT_WRITE
                                           : PROT_READ | PROT_WRITE;
        if (mprotect(region + i * page, page, prot) != 0) {
            munmap(region, count * page);
            return NULL;
        }
    }
    return region;
}

/* ---- memory_map_read ------------------------------------------------------------------ */

static void test_read_is_sorted(void)
{
    struct memory_map map = {0};
    if (!CHECK_TRUE(memory_map_read(&map)))
        return;
    CHECK_GE_U64(map.count, 10); /* executable, libc, ld.so, stack, vdso... */
    unsigned unordered = 0, empty = 0;
    for (size_t i = 0; i < map.count; i++) {
        empty += map.mappings[i].start >= map.mappings[i].end;
        if (i > 0)
            unordered += map.mappings[i - 1].end > map.mappings[i].start;
    }
    CHECK_EQ_U64(unordered, 0);
    CHECK_EQ_U64(empty, 0);

    /* A second read into the same map starts over. */
    size_t first_count = map.count;
    if (CHECK_TRUE(memory_map_read(&map))) {
        CHECK_GE_U64(map.count, 10);
        CHECK_LE_U64(map.count, first_count + 4);
        CHECK_GE_U64(map.count + 4, first_count);
    }
    memory_map_release(&map);
    CHECK_EQ_PTR(map.mappings, NULL);
    CHECK_EQ_U64(map.count, 0);
    /* Released, it reads again. */
    if (CHECK_TRUE(memory_map_read(&map)))
        CHECK_GE_U64(map.count, 10);
    memory_map_release(&map);
    CHECK_EQ_U64(map.count, 0);
    memory_map_release(&map); /* twice: harmless */
    CHECK_EQ_U64(map.count, 0);
}

/* Every mapping listed is still mapped when memory_map_read returns, until the release:
 * the reader's own memory (its read buffer, its array as it grew) included. The leak scan
 * reads whatever the map lists as readable. */
static void test_lists_no_memory_that_is_gone(void)
{
    unsigned char residency[1024];
    for (int round = 0; round < 20; round++) {
        struct memory_map map = {0};
        /* Another map held meanwhile, as the scan holds several mappings of its own. */
        struct memory_map other = {0};
        if (round % 2)
            memory_map_read(&other);
        if (!CHECK_TRUE(memory_map_read(&map))) {
            memory_map_release(&other);
            return;
        }
        unsigned gone = 0;
        for (size_t i = 0; i < map.count; i++) {
            const struct mapping *mapping = &map.mappings[i];
            if (mapping->start >= ((uintptr_t)1 << 47))
                continue; /* [vsyscall]: the kernel's, no mapping of the process */
            /* mincore fails with ENOMEM when any page of the range is not mapped. */
            for (uintptr_t at = mapping->start; at < mapping->end;) {
                size_t length = mapping->end - at;
                if (length > sizeof residency * page)
                    length = sizeof residency * page;
                if (mincore((void *)at, length, residency) != 0 && errno == ENOMEM) {
                    if (gone++ == 0)
                        fprintf(stderr, "    listed but not mapped: %lx-%lx\n",
                                (unsigned long)mapping->start, (unsigned long)mapping->end);
                    break;
                }
                at += length;
            }
        }
        CHECK_EQ_U64(gone, 0);
        memory_map_release(&map);
        memory_map_release(&other);
    }
}

static void test_stack_and_static_data(void)
{
    volatile char local[32];
    local[0] = 1;
    struct memory_map map = {0};
    /* Twice: the first calls may grow the stack's mapping; the second read and the text
     * read then see the same stack. */
    memory_map_read(&map);
    if (!CHECK_TRUE(memory_map_read(&map)) || !CHECK_TRUE(read_maps_text())) {
        memory_map_release(&map);
        return;
    }

    const struct mapping *stack = memory_map_find(&map, (uintptr_t)local);
    if (CHECK(stack != NULL)) {
        CHECK_TRUE(stack->readable);
        CHECK_TRUE(stack->writable);
        CHECK_LE_U64(stack->start, (uintptr_t)local);
        CHECK_LT_U64((uintptr_t)local, stack->end);
    }
    check_against_text(&map, (uintptr_t)local, __LINE__);
    /* The main thread's stack is the line the kernel names [stack]. */
    const char *named = strstr(maps_text, "[stack]");
    if (CHECK(named != NULL) && stack != NULL) {
        while (named > maps_text && named[-1] != '\n')
            named--;
        unsigned long start = 0, end = 0;
        CHECK_EQ_I64(sscanf(named, "%lx-%lx", &start, &end), 2);
        CHECK_EQ_U64(stack->start, start);
        CHECK_EQ_U64(stack->end, end);
    }

    const struct mapping *data = memory_map_find(&map, (uintptr_t)&data_variable);
    if (CHECK(data != NULL)) {
        CHECK_TRUE(data->readable);
        CHECK_TRUE(data->writable);
    }
    check_against_text(&map, (uintptr_t)&data_variable, __LINE__);

    const struct mapping *bss = memory_map_find(&map, (uintptr_t)&bss_buffer[10]);
    if (CHECK(bss != NULL)) {
        CHECK_TRUE(bss->readable);
        CHECK_TRUE(bss->writable);
    }
    check_against_text(&map, (uintptr_t)&bss_buffer[10], __LINE__);

    const struct mapping *rodata = memory_map_find(&map, (uintptr_t)rodata_text);
    if (CHECK(rodata != NULL)) {
        CHECK_TRUE(rodata->readable);
        CHECK_FALSE(rodata->writable);
    }
    check_against_text(&map, (uintptr_t)rodata_text, __LINE__);
    CHECK_EQ_U64((unsigned char)rodata_text[0], 'a');

    /* This function's code: readable, not writable. */
    const struct mapping *code = memory_map_find(&map, (uintptr_t)&test_stack_and_static_data);
    if (CHECK(code != NULL)) {
        CHECK_TRUE(code->readable);
        CHECK_FALSE(code->writable);
    }
    check_against_text(&map, (uintptr_t)&test_stack_and_static_data, __LINE__);
    memory_map_release(&map);
}

/* Pages: b n r b w n r, each a mapping of its own (its neighbours differ). */
static void test_protections(void)
{
    char *region = map_pages("bnrbwnr");
    if (!CHECK(region != NULL))
        return;
    uintptr_t base = (uintptr_t)region;
    struct memory_map map = {0};
    if (!CHECK_TRUE(memory_map_read(&map))) {
        munmap(region, 7 * page);
        return;
    }
    static const struct {
        unsigned page;
        bool readable, writable;
    } expected[] = {
        {1, false, false}, /* PROT_NONE */
        {2, true, false},  /* read-only */
        {3, true, true},
        {4, false, true},  /* write-only: "-w-p" */
        {5, false, false},
    };
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++) {
        uintptr_t start = base + expected[i].page * page;
        const struct mapping *found = memory_map_find(&map, start + page / 2);
        if (!CHECK(found != NULL))
            continue;
        CHECK_EQ_U64(found->start, start);
        CHECK_EQ_U64(found->end, start + page);
        CHECK_EQ_U64(found->readable, expected[i].readable);
        CHECK_EQ_U64(found->writable, expected[i].writable);
    }
    /* The edge pages: nothing around them to merge with. */
    const struct mapping *first = memory_map_find(&map, base);
    if (CHECK(first != NULL)) {
        CHECK_EQ_U64(first->end, base + page);
        CHECK_EQ_U64(first->start, base);
        CHECK_TRUE(first->readable);
        CHECK_TRUE(first->writable);
    }
    const struct mapping *last = memory_map_find(&map, base + 7 * page - 1);
    if (CHECK(last != NULL)) {
        CHECK_EQ_U64(last->start, base + 6 * page);
        CHECK_EQ_U64(last->end, base + 7 * page);
        CHECK_TRUE(last->readable);
        CHECK_FALSE(last->writable);
    }
    memory_map_release(&map);
    munmap(region, 7 * page);
}

/* What the reader maps it gives back at the release: the process's size is the same after
 * many reads and releases. */
static unsigned long vm_size_kib(void)
{
    static char status[16384];
    if (memory_map_read_small_file("/proc/self/status", status, sizeof status) <= 0)
        return 0;
    const char *line = strstr(status, "\nVmSize:");
    return line != NULL ? strtoul(line + 8, NULL, 10) : 0;
}

static void test_release_unmaps(void)
{
    struct memory_map map = {0};
    memory_map_read(&map); /* a first time: whatever it sets up once is set up */
    memory_map_release(&map);
    unsigned long before = vm_size_kib();
    for (int i = 0; i < 50; i++) {
        CHECK_TRUE(memory_map_read(&map));
        memory_map_release(&map);
    }
    CHECK(before != 0);
    CHECK_EQ_U64(vm_size_kib(), before);
    /* Reading again into a map that holds a reading: the older one is given back too. */
    memory_map_read(&map);
    unsigned long holding = vm_size_kib();
    for (int i = 0; i < 50; i++)
        CHECK_TRUE(memory_map_read(&map));
    CHECK_EQ_U64(vm_size_kib(), holding);
    memory_map_release(&map);
    CHECK_EQ_U64(vm_size_kib(), before);
}

/* ---- memory_map_find ------------------------------------------------------------------ */

static void test_find_bounds_and_gaps(void)
{
    /* r n b, then the middle page unmapped: r [gap] b. */
    char *region = map_pages("rnbr");
    if (!CHECK(region != NULL))
        return;
    uintptr_t base = (uintptr_t)region;
    struct memory_map map = {0};
    CHECK_EQ_I64(munmap(region + page, page), 0);
    if (!CHECK_TRUE(memory_map_read(&map))) {
        munmap(region, 4 * page);
        return;
    }
    /* Page 2, exact: its neighbours are a hole and a read-only page. */
    uintptr_t start = base + 2 * page, end = base + 3 * page;
    const struct mapping *at_start = memory_map_find(&map, start);
    const struct mapping *at_last = memory_map_find(&map, end - 1);
    if (CHECK(at_start != NULL) && CHECK(at_last != NULL)) {
        CHECK_EQ_PTR(at_start, at_last);
        CHECK_EQ_U64(at_start->start, start);
        CHECK_EQ_U64(at_start->end, end);
        CHECK_TRUE(at_start->readable);
        CHECK_TRUE(at_start->writable);
    }
    /* end is exclusive: it is the next mapping's start (page 3, read-only). */
    const struct mapping *at_end = memory_map_find(&map, end);
    if (CHECK(at_end != NULL)) {
        CHECK(at_end != at_start);
        CHECK_EQ_U64(at_end->start, end);
        CHECK_TRUE(at_end->readable);
        CHECK_FALSE(at_end->writable);
    }
    /* The hole: no mapping at any of its addresses, nor just before page 2. */
    CHECK_EQ_PTR(memory_map_find(&map, base + page), NULL);
    CHECK_EQ_PTR(memory_map_find(&map, base + page + page / 2), NULL);
    CHECK_EQ_PTR(memory_map_find(&map, start - 1), NULL);
    /* The page before the hole ends exactly at it. */
    const struct mapping *before = memory_map_find(&map, base + page - 1);
    if (CHECK(before != NULL)) {
        CHECK_EQ_U64(before->end, base + page);
        CHECK_TRUE(before->readable);
        CHECK_FALSE(before->writable);
    }
    /* Nothing is mapped just below or above the region, at 0, nor at the very top. */
    CHECK_EQ_PTR(memory_map_find(&map, base - 1), NULL);
    CHECK_EQ_PTR(memory_map_find(&map, base + 4 * page), NULL);
    CHECK_EQ_PTR(memory_map_find(&map, 0), NULL);
    CHECK_EQ_PTR(memory_map_find(&map, 4095), NULL);
    CHECK_EQ_PTR(memory_map_find(&map, UINTPTR_MAX), NULL);
    /* Every mapping is found from its first and last address, and not from its end unless
     * the next one begins there. */
    unsigned wrong = 0;
    for (size_t i = 0; i < map.count; i++) {
        const struct mapping *mapping = &map.mappings[i];
        wrong += memory_map_find(&map, mapping->start) != mapping;
        wrong += memory_map_find(&map, mapping->end - 1) != mapping;
        const struct mapping *next = i + 1 < map.count ? &map.mappings[i + 1] : NULL;
        const struct mapping *after = memory_map_find(&map, mapping->end);
        wrong += after != (next != NULL && next->start == mapping->end ? next : NULL);
        if (mapping->start > 0 && (i == 0 || map.mappings[i - 1].end < mapping->start))
            wrong += memory_map_find(&map, mapping->start - 1) != NULL;
    }
    CHECK_EQ_U64(wrong, 0);

    /* An empty map finds nothing. */
    struct memory_map none = {0};
    CHECK_EQ_PTR(memory_map_find(&none, base), NULL);
    memory_map_release(&map);
    munmap(region, page);
    munmap(region + 2 * page, 2 * page);
}

/* ---- memory_map_for_each_readable ----------------------------------------------------- */

#define MAX_PIECES 16
struct pieces {
    uintptr_t start[MAX_PIECES], end[MAX_PIECES];
    unsigned count;
    unsigned overflow;
};

static void collect_piece(uintptr_t start, uintptr_t end, void *context)
{
    struct pieces *pieces = context;
    if (pieces->count == MAX_PIECES) {
        pieces->overflow++;
        return;
    }
    pieces->start[pieces->count] = start;
    pieces->end[pieces->count] = end;
    pieces->count++;
}

static void check_piece(const struct pieces *pieces, unsigned index, uintptr_t start,
                        uintptr_t end, int line)
{
    if (!check_true(index < pieces->count, "piece present", __FILE__, line))
        return;
    check_u64(pieces->start[index], start, CHECK_EQ, "piece start", "expected", __FILE__,
              line);
    check_u64(pieces->end[index], end, CHECK_EQ, "piece end", "expected", __FILE__, line);
}

struct piece_sum {
    uint64_t bytes;
    uintptr_t last_end;
    unsigned unordered; /* pieces that start before the previous one ended, or empty */
};

static void collect_sum(uintptr_t start, uintptr_t end, void *context)
{
    struct piece_sum *sum = context;
    sum->unordered += start < sum->last_end || start >= end;
    sum->bytes += end - start;
    sum->last_end = end;
}

static void test_for_each_readable(void)
{
    /* b n r b n w [hole] r b: page 6 is unmapped */
    char *region = map_pages("bnrbnwbrb");
    if (!CHECK(region != NULL))
        return;
    uintptr_t base = (uintptr_t)region;
    struct memory_map map = {0};
    CHECK_EQ_I64(munmap(region + 6 * page, page), 0);
#define P(n) (base + (n) * page)
    if (!CHECK_TRUE(memory_map_read(&map))) {
        munmap(region, 9 * page);
        return;
    }
    struct pieces pieces = {0};

    /* From the middle of page 0 to the middle of page 8: each readable mapping in order,
     * cut to the range; adjacent readable mappings (pages 2 and 3, 7 and 8) stay apart. */
    memory_map_for_each_readable(&map, P(0) + 100, P(8) + 200, collect_piece, &pieces);
    CHECK_EQ_U64(pieces.count, 5);
    CHECK_EQ_U64(pieces.overflow, 0);
    check_piece(&pieces, 0, P(0) + 100, P(1), __LINE__);
    check_piece(&pieces, 1, P(2), P(3), __LINE__);
    check_piece(&pieces, 2, P(3), P(4), __LINE__);
    check_piece(&pieces, 3, P(7), P(8), __LINE__);
    check_piece(&pieces, 4, P(8), P(8) + 200, __LINE__);

    /* Starting and ending inside unreadable pages. */
    memset(&pieces, 0, sizeof pieces);
    memory_map_for_each_readable(&map, P(1) + 8, P(5) + 8, collect_piece, &pieces);
    CHECK_EQ_U64(pieces.count, 2);
    check_piece(&pieces, 0, P(2), P(3), __LINE__);
    check_piece(&pieces, 1, P(3), P(4), __LINE__);

    /* Inside one readable page: the range itself. */
    memset(&pieces, 0, sizeof pieces);
    memory_map_for_each_readable(&map, P(2) + 8, P(2) + 16, collect_piece, &pieces);
    CHECK_EQ_U64(pieces.count, 1);
    check_piece(&pieces, 0, P(2) + 8, P(2) + 16, __LINE__);

    /* Exactly one mapping: the mapping. */
    memset(&pieces, 0, sizeof pieces);
    memory_map_for_each_readable(&map, P(3), P(4), collect_piece, &pieces);
    CHECK_EQ_U64(pieces.count, 1);
    check_piece(&pieces, 0, P(3), P(4), __LINE__);

    /* Only unreadable memory and the hole: nothing. */
    memset(&pieces, 0, sizeof pieces);
    memory_map_for_each_readable(&map, P(4), P(7), collect_piece, &pieces);
    CHECK_EQ_U64(pieces.count, 0);
    memory_map_for_each_readable(&map, P(6), P(7), collect_piece, &pieces);
    CHECK_EQ_U64(pieces.count, 0);
    memory_map_for_each_readable(&map, P(1), P(2), collect_piece, &pieces);
    CHECK_EQ_U64(pieces.count, 0);

    /* An empty range, and one that ends where a readable page begins: nothing. */
    memory_map_for_each_readable(&map, P(2) + 8, P(2) + 8, collect_piece, &pieces);
    CHECK_EQ_U64(pieces.count, 0);
    memory_map_for_each_readable(&map, P(1) + 8, P(2), collect_piece, &pieces);
    CHECK_EQ_U64(pieces.count, 0);

    /* Starting at a readable page's end: that page is not visited. */
    memory_map_for_each_readable(&map, P(4), P(5), collect_piece, &pieces);
    CHECK_EQ_U64(pieces.count, 0);
    memory_map_for_each_readable(&map, P(8), P(8) + 1, collect_piece, &pieces);
    CHECK_EQ_U64(pieces.count, 1);
    check_piece(&pieces, 0, P(8), P(8) + 1, __LINE__);

    /* The pieces cover exactly the readable bytes: summed over the whole address space they
     * are the readable mappings' sizes. */
    struct piece_sum sum = {0, 0, 0};
    uint64_t expected_bytes = 0;
    for (size_t i = 0; i < map.count; i++)
        if (map.mappings[i].readable)
            expected_bytes += map.mappings[i].end - map.mappings[i].start;
    memory_map_for_each_readable(&map, 0, UINTPTR_MAX, collect_sum, &sum);
    CHECK_EQ_U64(sum.bytes, expected_bytes);
    CHECK_EQ_U64(sum.unordered, 0);
#undef P
    memory_map_release(&map);
    munmap(region, 6 * page);
    munmap(region + 7 * page, 2 * page);
}

/* ---- memory_map_copy ------------------------------------------------------------------ */

static void test_copy(void)
{
    /* b n b [hole] */
    char *region = map_pages("bnbb");
    if (!CHECK(region != NULL))
        return;
    CHECK_EQ_I64(munmap(region + 3 * page, page), 0);
    uintptr_t base = (uintptr_t)region;
    for (size_t i = 0; i < page / sizeof(uint64_t); i++) {
        ((uint64_t *)region)[i] = 0x1000 + i;
        ((uint64_t *)(region + 2 * page))[i] = 0x2000 + i;
    }
    static uint64_t out[8192];
    errno = 777;

    /* A readable page: all of it, as it is. */
    memset(out, 0xee, sizeof out);
    CHECK_EQ_U64(memory_map_copy(base, out, page), page);
    CHECK(memcmp(out, region, page) == 0);
    /* Up to an unreadable page: the readable part only. */
    memset(out, 0xee, sizeof out);
    CHECK_EQ_U64(memory_map_copy(base + page / 2, out, page), page / 2);
    CHECK(memcmp(out, region + page / 2, page / 2) == 0);
    /* Up to a hole: likewise. */
    CHECK_EQ_U64(memory_map_copy(base + 3 * page - 64, out, 128), 64);
    CHECK_EQ_U64(out[0], 0x2000 + (page - 64) / sizeof(uint64_t));
    CHECK_EQ_U64(out[7], 0x2000 + page / sizeof(uint64_t) - 1);
    /* Unreadable, unmapped: nothing, and no fault. */
    CHECK_EQ_U64(memory_map_copy(base + page, out, 64), 0);
    CHECK_EQ_U64(memory_map_copy(base + 3 * page, out, 64), 0);
    CHECK_EQ_U64(memory_map_copy(0, out, 64), 0);
    /* Nothing asked, nothing copied. */
    CHECK_EQ_U64(memory_map_copy(base, out, 0), 0);
    CHECK_EQ_I64(errno, 777);
    munmap(region, 3 * page);
}

/* ---- memory_map_read_small_file ------------------------------------------------------- */

static void test_small_file(void)
{
    static char status[16384];
    long length = memory_map_read_small_file("/proc/self/status", status, sizeof status);
    if (!CHECK(length > 0))
        return;
    CHECK_LT_U64((uint64_t)length, sizeof status - 1); /* all of it */
    CHECK_EQ_U64(strlen(status), (uint64_t)length);    /* NUL-terminated at its length */
    CHECK_PREFIX(status, "Name:\t");
    char pid_line[64];
    snprintf(pid_line, sizeof pid_line, "\nPid:\t%d\n", (int)getpid());
    CHECK_CONTAINS(status, pid_line);
    CHECK_CONTAINS(status, "\nSigBlk:\t");
    CHECK_EQ_U64((unsigned char)status[length - 1], '\n');

    /* Truncated to the buffer: size - 1 bytes, the first ones, then the NUL. */
    char small[16];
    memset(small, 'Z', sizeof small);
    CHECK_EQ_I64(memory_map_read_small_file("/proc/self/status", small, sizeof small), 15);
    CHECK_EQ_U64((unsigned char)small[15], '\0');
    CHECK(memcmp(small, status, 15) == 0);

    /* Truncation of a file read in several reads: /proc/self/maps, cut at 5000 bytes. */
    static char maps_full[1 << 20], maps_cut[5001 + 16];
    long full = memory_map_read_small_file("/proc/self/maps", maps_full, sizeof maps_full);
    memset(maps_cut, 'Z', sizeof maps_cut);
    long cut = memory_map_read_small_file("/proc/self/maps", maps_cut, 5001);
    if (CHECK_GE_U64((uint64_t)full, 5001)) { /* a process with libc, libdw... */
        CHECK_EQ_I64(cut, 5000);
        CHECK_EQ_U64((unsigned char)maps_cut[5000], '\0');
        CHECK_EQ_U64((unsigned char)maps_cut[5001], 'Z'); /* nothing past the buffer */
        CHECK_EQ_U64(strlen(maps_cut), 5000);
    }

    /* A buffer of one byte: the empty string. */
    char one = 'Z';
    CHECK_EQ_I64(memory_map_read_small_file("/proc/self/status", &one, 1), 0);
    CHECK_EQ_U64((unsigned char)one, '\0');

    /* A missing file: -1, errno kept. */
    char missing[32];
    errno = 1234;
    CHECK_EQ_I64(memory_map_read_small_file("/proc/self/no-such-file", missing,
                                            sizeof missing), -1);
    CHECK_EQ_I64(memory_map_read_small_file("/nonexistent/dir/file", missing, sizeof missing),
                 -1);
    CHECK_EQ_I64(errno, 1234);
    /* A directory opens but cannot be read: -1. */
    CHECK_EQ_I64(memory_map_read_small_file("/proc/self", missing, sizeof missing), -1);
    CHECK_EQ_I64(errno, 1234);

    /* An empty file: 0 and the empty string. */
    char empty[8];
    memset(empty, 'Z', sizeof empty);
    CHECK_EQ_I64(memory_map_read_small_file("/dev/null", empty, sizeof empty), 0);
    CHECK_EQ_U64((unsigned char)empty[0], '\0');

    /* No file descriptor is left open: the same descriptor number comes back. */
    int before = open("/dev/null", O_RDONLY);
    close(before);
    for (int i = 0; i < 50; i++)
        memory_map_read_small_file("/proc/self/status", small, sizeof small);
    memory_map_read_small_file("/proc/self/nope", small, sizeof small);
    int after = open("/dev/null", O_RDONLY);
    CHECK_EQ_I64(after, before);
    close(after);
}

/* memory_map_read leaves errno alone, and no descriptor open. */
static void test_read_keeps_errno(void)
{
    struct memory_map map = {0};
    int before = open("/dev/null", O_RDONLY);
    close(before);
    errno = 4321;
    CHECK_TRUE(memory_map_read(&map));
    CHECK_EQ_I64(errno, 4321);
    int after = open("/dev/null", O_RDONLY);
    CHECK_EQ_I64(after, before);
    close(after);
    memory_map_release(&map);
}

/* ---- memory_map_visit ----------------------------------------------------------------- */

struct sought {
    uintptr_t address;
    struct maps_entry entry; /* path copied into path */
    char path[256];
    unsigned found;
    unsigned visits;
    unsigned stop_after; /* 0: never */
};

static bool find_entry(const struct maps_entry *entry, void *sought_pointer)
{
    struct sought *sought = sought_pointer;
    sought->visits++;
    if (entry->start <= sought->address && sought->address < entry->end) {
        sought->found++;
        sought->entry = *entry;
        snprintf(sought->path, sizeof sought->path, "%s", entry->path);
    }
    return sought->stop_after == 0 || sought->visits < sought->stop_after;
}

static uint64_t device_of(dev_t device)
{
    return (uint64_t)major(device) << 32 | minor(device);
}

/* Device, inode and path of a file's mapping (a path with spaces in it), of the program's
 * code, and none for anonymous memory; a visit that returns false stops the reading. */
static void test_visit_entries(void)
{
    int fd = memfd_create("a mapped file", 0);
    if (!CHECK_TRUE(fd >= 0))
        return;
    struct stat file_status;
    void *file_map = MAP_FAILED;
    if (CHECK_EQ_I64(ftruncate(fd, (off_t)page), 0) && CHECK_EQ_I64(fstat(fd, &file_status), 0))
        file_map = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (!CHECK_TRUE(file_map != MAP_FAILED))
        return;
    struct sought sought = {.address = (uintptr_t)file_map};
    CHECK_TRUE(memory_map_visit(find_entry, &sought));
    CHECK_EQ_U64(sought.found, 1);
    CHECK_EQ_STR(sought.path, "/memfd:a mapped file (deleted)");
    CHECK_EQ_U64(sought.entry.inode, (uint64_t)file_status.st_ino);
    CHECK_EQ_U64(sought.entry.device, device_of(file_status.st_dev));
    CHECK_TRUE(sought.entry.readable);
    CHECK_FALSE(sought.entry.writable);
    munmap(file_map, page);

    char executable[PATH_MAX];
    struct stat executable_status;
    if (CHECK_TRUE(realpath("/proc/self/exe", executable) != NULL)
        && CHECK_EQ_I64(stat(executable, &executable_status), 0)) {
        sought = (struct sought){.address = (uintptr_t)&test_visit_entries};
        CHECK_TRUE(memory_map_visit(find_entry, &sought));
        CHECK_EQ_U64(sought.found, 1);
        CHECK_EQ_STR(sought.path, executable);
        CHECK_EQ_U64(sought.entry.inode, (uint64_t)executable_status.st_ino);
        CHECK_EQ_U64(sought.entry.device, device_of(executable_status.st_dev));
    }

    void *anonymous = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (CHECK_TRUE(anonymous != MAP_FAILED)) {
        sought = (struct sought){.address = (uintptr_t)anonymous};
        CHECK_TRUE(memory_map_visit(find_entry, &sought));
        CHECK_EQ_U64(sought.found, 1);
        CHECK_EQ_STR(sought.path, "");
        CHECK_EQ_U64(sought.entry.inode, 0);
        CHECK_EQ_U64(sought.entry.device, 0);
        CHECK_TRUE(sought.entry.writable);
        munmap(anonymous, page);
    }

    sought = (struct sought){.stop_after = 3};
    CHECK_FALSE(memory_map_visit(find_entry, &sought));
    CHECK_EQ_U64(sought.visits, 3);
}

/* Removes the tree at name in directory, deeper than PATH_MAX. */
static void remove_tree(int directory, const char *name)
{
    int inner = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (inner >= 0) {
        DIR *listing = fdopendir(inner);
        struct dirent *entry;
        while (listing != NULL && (entry = readdir(listing)) != NULL)
            if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
                remove_tree(inner, entry->d_name);
        if (listing != NULL)
            closedir(listing);
        else
            close(inner);
    }
    if (unlinkat(directory, name, AT_REMOVEDIR) != 0)
        unlinkat(directory, name, 0);
}

/* A path longer than the reader's 64 KiB chunk, whose part past the chunk reads like a line
 * of its own: the mapping is listed without its path, and nothing else. Until b04decf that
 * part was read as a line, a mapping at 0x1000 that does not exist, out of address order. */
static void test_a_path_longer_than_the_chunk(void)
{
    char base[] = "/tmp/maps-long-XXXXXX";
    if (!CHECK_TRUE(mkdtemp(base) != NULL))
        return;
    const size_t path_column = 73; /* where the kernel starts a 64-bit line's path */
    const char fake[] = "1000-2000 r-xp 00000000 fe:00 42 ";
    size_t before_fake = 65535 - path_column - strlen(base) - 1; /* after base and its '/' */
    int directory = open(base, O_RDONLY | O_DIRECTORY);
    char component[256];
    for (size_t i = before_fake / 201; i > 0 && directory >= 0; i--) {
        memset(component, 'c', 200);
        component[200] = '\0';
        mkdirat(directory, component, 0700);
        int inner = openat(directory, component, O_RDONLY | O_DIRECTORY);
        close(directory);
        directory = inner;
    }
    memset(component, 'p', before_fake % 201);
    strcpy(component + before_fake % 201, fake);
    const char *last[] = {component, "rest"};
    for (size_t i = 0; i < 2 && directory >= 0; i++) {
        mkdirat(directory, last[i], 0700);
        int inner = openat(directory, last[i], O_RDONLY | O_DIRECTORY);
        close(directory);
        directory = inner;
    }
    int fd = directory >= 0 ? openat(directory, "f", O_RDWR | O_CREAT, 0600) : -1;
    void *file_map = MAP_FAILED;
    if (CHECK_TRUE(fd >= 0) && CHECK_EQ_I64(ftruncate(fd, (off_t)page), 0))
        file_map = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
    if (fd >= 0)
        close(fd);
    if (directory >= 0)
        close(directory);
    if (!CHECK_TRUE(file_map != MAP_FAILED)) {
        remove_tree(AT_FDCWD, base);
        return;
    }
    struct sought sought = {.address = (uintptr_t)file_map};
    CHECK_TRUE(memory_map_visit(find_entry, &sought));
    CHECK_EQ_U64(sought.found, 1);
    CHECK_EQ_STR(sought.path, "");
    CHECK_EQ_U64(sought.entry.end - sought.entry.start, page);
    sought = (struct sought){.address = 0x1800};
    CHECK_TRUE(memory_map_visit(find_entry, &sought));
    CHECK_EQ_U64(sought.found, 0);
    struct memory_map map = {0};
    if (CHECK_TRUE(memory_map_read(&map))) {
        CHECK_TRUE(memory_map_find(&map, (uintptr_t)file_map) != NULL);
        CHECK_TRUE(memory_map_find(&map, 0x1800) == NULL);
        unsigned unordered = 0;
        for (size_t i = 1; i < map.count; i++)
            unordered += map.mappings[i - 1].end > map.mappings[i].start;
        CHECK_EQ_U64(unordered, 0);
    }
    memory_map_release(&map);
    munmap(file_map, page);
    remove_tree(AT_FDCWD, base);
}

int main(void)
{
    alarm(30);
    page = (size_t)sysconf(_SC_PAGESIZE);
    bss_buffer[10] = (char)data_variable;
    RUN_TEST(test_read_is_sorted);
    RUN_TEST(test_lists_no_memory_that_is_gone);
    RUN_TEST(test_release_unmaps);
    RUN_TEST(test_stack_and_static_data);
    RUN_TEST(test_protections);
    RUN_TEST(test_find_bounds_and_gaps);
    RUN_TEST(test_for_each_readable);
    RUN_TEST(test_copy);
    RUN_TEST(test_small_file);
    RUN_TEST(test_read_keeps_errno);
    RUN_TEST(test_visit_entries);
    RUN_TEST(test_a_path_longer_than_the_chunk);
    return check_exit_status();
}
