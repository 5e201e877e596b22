/* test_leak_scan.c: the leak scan's classification (leak_scan.h), on blocks inserted here.
 *
 * Each test allocates real memory with calloc, records it in the live table with
 * live_table_insert (the core alone intercepts no malloc: the table holds only what a test
 * inserts, checked at the start), lays pointers out between the blocks and in globals, runs
 * leak_scan_run with a caller whose stack is 0 and has no registers (so the test's own stack
 * is no root, as for the exiting thread at exit) and checks the class of each block it
 * inserted, found in scan.blocks by address, and scan.unreachable.
 *
 * Addresses this file keeps in its own data (which is a root) are kept complemented
 * (~address), which no block contains; the test functions' locals are on the main thread's
 * stack, which these scans do not look at. Each test takes its blocks out of the table again
 * and frees them: the tracer's exit pass (after main returns) finds the table empty.
 *
 * The core's constructor has started the tracer's flusher thread: the flush lock is held for
 * the whole run (its periodic pass would mark blocks), and its thread id, found at the start,
 * is passed as skip_tid, as the tracer does. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "event_log.h"
#include "events.h"
#include "flusher.h"
#include "leak_scan.h"
#include "live_table.h"
#include "memory_map.h"

/* ---- helpers -------------------------------------------------------------------------- */

static pid_t flusher_tid;

/* Roots: the program's data. Cleared by every test. */
void *volatile global_roots[8];
/* A pointer stored at offset 4 of an 8-aligned buffer: no aligned word holds it. */
static volatile char unaligned_root[24] __attribute__((aligned(16)));

static uintptr_t hide(const void *pointer)
{
    return ~(uintptr_t)pointer;
}

static void *unhide(uintptr_t hidden)
{
    return (void *)~hidden;
}

/* The blocks a test inserted (complemented addresses). */
struct test_block {
    uintptr_t hidden;
    uint64_t size;
    bool from_calloc; /* else the test unmaps it itself */
};
#define MAX_BLOCKS 64
static struct test_block inserted[MAX_BLOCKS];
static unsigned inserted_count;

static void record(void *memory, uint64_t size, uint8_t flags, bool from_calloc)
{
    struct live_block block = {
        .address = (uintptr_t)memory,
        .size = size,
        .time_ms = 1000 + inserted_count,
        .stack_id = 7 + inserted_count,
        .thread_id = 4242,
        .entry_point = ENTRY_MALLOC,
        .flags = flags,
    };
    live_table_insert(&block, NULL);
    if (inserted_count < MAX_BLOCKS)
        inserted[inserted_count++] = (struct test_block){hide(memory), size, from_calloc};
}

/* A zeroed block of size bytes (at least one allocated), recorded with flags. */
static void *new_block(uint64_t size, uint8_t flags)
{
    void *memory = calloc(1, size ? size : 1);
    if (memory == NULL) {
        fprintf(stderr, "calloc failed\n");
        exit(2);
    }
    record(memory, size, flags, true);
    return memory;
}

static void set_word(void *block, size_t offset, const void *value)
{
    memcpy((char *)block + offset, &value, sizeof value);
}

/* Takes every inserted block out of the table and frees it; clears the roots. */
static void release_all(void)
{
    struct live_block out;
    for (unsigned i = 0; i < inserted_count; i++) {
        void *memory = unhide(inserted[i].hidden);
        live_table_take((uintptr_t)memory, &out);
        if (inserted[i].from_calloc)
            free(memory);
    }
    inserted_count = 0;
    for (unsigned i = 0; i < sizeof global_roots / sizeof *global_roots; i++)
        global_roots[i] = NULL;
    memset((void *)unaligned_root, 0, sizeof unaligned_root);
}

/* The index of address in scan.blocks (sorted by address), or SIZE_MAX. */
static size_t find_block(const struct leak_scan *scan, const void *address)
{
    size_t low = 0, high = scan->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (scan->blocks[middle].address < (uintptr_t)address)
            low = middle + 1;
        else
            high = middle;
    }
    return low < scan->count && scan->blocks[low].address == (uintptr_t)address ? low
                                                                                : SIZE_MAX;
}

static const char *class_name(int class)
{
    return class == CLASS_REACHABLE ? "reachable"
           : class == CLASS_LEAK    ? "leak"
           : class == CLASS_INDIRECT ? "indirect"
                                    : "absent";
}

#define EXPECT_CLASS(scan, block, class) expect_class((scan), (block), (class), #block, __LINE__)
static void expect_class(const struct leak_scan *scan, const void *block, int class,
                         const char *name, int line)
{
    size_t index = find_block(scan, block);
    int found = index == SIZE_MAX ? -1 : scan->classes[index];
    if (!check_record(found == class, __FILE__, line))
        fprintf(stderr, "    block %s: class %s, expected %s\n", name, class_name(found),
                class_name(class));
}

/* The flags the scan copied for block (before its own marking), or 0xff when absent. */
static unsigned scanned_flags(const struct leak_scan *scan, const void *block)
{
    size_t index = find_block(scan, block);
    return index == SIZE_MAX ? 0xffu : scan->blocks[index].flags;
}

/* The flags the table holds for block now (0xff when absent), read by taking the block out
 * and putting it back. */
static unsigned table_flags(const void *block)
{
    struct live_block out;
    if (!live_table_take((uintptr_t)block, &out))
        return 0xffu;
    live_table_insert(&out, NULL);
    return out.flags;
}

/* Where the scans put the queued `free` rows (the blocks here are inserted and removed
 * without any). */
static struct event_log free_rows;

/* A scan as at exit: no caller stack, no caller registers. */
static bool scan_as_at_exit(struct leak_scan *scan)
{
    struct leak_scan_caller caller = {.stack = 0};
    leak_scan_begin(scan);
    return leak_scan_run(scan, &caller, flusher_tid, &free_rows);
}

/* The scan's blocks are exactly the table's (the inserted ones), by address, as recorded. */
static void check_copy(const struct leak_scan *scan, int line)
{
    check_u64(scan->count, inserted_count, CHECK_EQ, "scan.count", "inserted", __FILE__, line);
    unsigned unordered = 0, wrong = 0;
    for (size_t i = 1; i < scan->count; i++)
        unordered += scan->blocks[i - 1].address >= scan->blocks[i].address;
    for (unsigned i = 0; i < inserted_count; i++) {
        size_t index = find_block(scan, unhide(inserted[i].hidden));
        if (index == SIZE_MAX) {
            wrong++;
            continue;
        }
        const struct live_block *block = &scan->blocks[index];
        wrong += block->size != inserted[i].size || block->time_ms != 1000 + i
                 || block->stack_id != 7 + i || block->thread_id != 4242
                 || block->entry_point != ENTRY_MALLOC;
    }
    check_u64(unordered, 0, CHECK_EQ, "blocks out of order", "0", __FILE__, line);
    check_u64(wrong, 0, CHECK_EQ, "blocks missing or altered", "0", __FILE__, line);
}

static pid_t gettid_raw(void)
{
    return (pid_t)syscall(SYS_gettid);
}

static uint64_t now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

/* Waits (at most 5 s) until tid is blocked in read(). */
static bool wait_in_read(pid_t tid)
{
    char path[64], text[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    uint64_t deadline = now_ms() + 5000;
    for (;;) {
        if (memory_map_read_small_file(path, text, sizeof text) > 0
            && strtol(text, NULL, 10) == SYS_read && text[0] != 'r')
            return true;
        if (now_ms() > deadline)
            return false;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
}

/* ---- threads that keep a block in a local -------------------------------------------- */

struct holder {
    uintptr_t hidden;  /* the block it keeps in a local */
    int pipe[2];
    bool block_signals;
    bool spin;         /* spins instead of reading (with every signal blocked: unknown SP) */
    bool in_register;  /* keeps the block in a register only, through its read() */
    _Atomic int ready;
    atomic_bool stop;
    pid_t tid;
    long got;
};

/* read(fd, buffer, 1) with the block's address (given complemented) in r12 alone: no
 * memory of the process holds it meanwhile (the kernel keeps the thread's registers in its
 * own memory), only a copy of the registers taken in a signal handler can show it. */
static long read_keeping_in_register(int fd, void *buffer, uintptr_t hidden)
{
    long result;
    register uintptr_t kept __asm__("r12") = hidden;
    __asm__ volatile("notq %%r12\n\t"
                     "syscall\n\t"
                     "xorl %%r12d, %%r12d"
                     : "=a"(result), "+r"(kept)
                     : "0"((long)SYS_read), "D"((long)fd), "S"(buffer), "d"(1L)
                     : "rcx", "r11", "memory");
    return result;
}

static void *holder_main(void *argument)
{
    struct holder *holder = argument;
    if (holder->block_signals) {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
    }
    if (holder->in_register) {
        holder->tid = gettid_raw();
        atomic_store(&holder->ready, 1);
        char byte;
        holder->got = read_keeping_in_register(holder->pipe[0], &byte, holder->hidden);
        return NULL;
    }
    /* The only copy of the block's address: a local on this thread's stack. */
    void *volatile kept = unhide(holder->hidden);
    holder->tid = gettid_raw();
    atomic_store(&holder->ready, 1);
    if (holder->spin) {
        while (!atomic_load_explicit(&holder->stop, memory_order_relaxed))
            ;
    } else {
        char byte;
        holder->got = read(holder->pipe[0], &byte, 1);
    }
    kept = NULL;
    return kept;
}

static bool start_holder_with(struct holder *holder, pthread_t *thread, void *block,
                              bool block_signals, bool spin, bool in_register)
{
    memset(holder, 0, sizeof *holder);
    holder->hidden = hide(block);
    holder->block_signals = block_signals;
    holder->spin = spin;
    holder->in_register = in_register;
    if (pipe(holder->pipe) != 0 || pthread_create(thread, NULL, holder_main, holder) != 0)
        return false;
    while (!atomic_load(&holder->ready))
        sched_yield();
    return spin || wait_in_read(holder->tid);
}

static bool start_holder(struct holder *holder, pthread_t *thread, void *block,
                         bool block_signals, bool spin)
{
    return start_holder_with(holder, thread, block, block_signals, spin, false);
}

static void finish_holder(struct holder *holder, pthread_t thread)
{
    char byte = 1;
    atomic_store(&holder->stop, true);
    if (!holder->spin)
        CHECK_EQ_I64(write(holder->pipe[1], &byte, 1), 1);
    CHECK_EQ_I64(pthread_join(thread, NULL), 0);
    if (!holder->spin)
        CHECK_EQ_I64(holder->got, 1); /* read() restarted after the stop, never EINTR */
    close(holder->pipe[0]);
    close(holder->pipe[1]);
}

static struct holder stopped_holder, unreached_holder, running_holder, idle_holder;
static struct holder register_holder, unreached_register_holder;

/* ---- tests ---------------------------------------------------------------------------- */

static void test_empty_table(void)
{
    struct leak_scan scan;
    if (!CHECK_TRUE(scan_as_at_exit(&scan)))
        return;
    CHECK_EQ_U64(scan.count, 0);
    CHECK_EQ_U64(scan.unreachable, 0);
    leak_scan_release(&scan);
    CHECK_EQ_PTR(scan.blocks, NULL);
    CHECK_EQ_U64(scan.count, 0);
}

/* glibc's main arena points to the top chunk: when the block before it has a size that is
 * no multiple of 16, that pointer lies inside the block's last 8 bytes. The arena is cut out
 * of the roots: the block stays a leak. */
static void test_main_arena_is_no_root(void)
{
    /* Larger than any free chunk this young process has: carved from the top chunk. */
    const size_t size = 100008;
    void *block = new_block(size, 0);
    uintptr_t chunk = (uintptr_t)block - 2 * sizeof(size_t);
    size_t chunk_size = *(const size_t *)(chunk + sizeof(size_t)) & ~(size_t)7;
    uintptr_t next = chunk + chunk_size;
    /* The precondition: the next chunk's header starts inside the block, and it is the top
     * chunk (its size reaches the end of the heap's mapping). */
    CHECK_EQ_U64(next, (uintptr_t)block + size - sizeof(size_t));
    struct memory_map map = {0};
    if (CHECK_TRUE(memory_map_read(&map))) {
        const struct mapping *heap = memory_map_find(&map, next);
        size_t next_size = *(const size_t *)(next + sizeof(size_t));
        if (CHECK(heap != NULL))
            CHECK_EQ_U64(next_size & ~(size_t)7, heap->end - next);
    }
    memory_map_release(&map);

    struct leak_scan scan;
    if (CHECK_TRUE(scan_as_at_exit(&scan))) {
        check_copy(&scan, __LINE__);
        EXPECT_CLASS(&scan, block, CLASS_LEAK);
        CHECK_EQ_U64(scan.unreachable, 1);
        leak_scan_release(&scan);
    }
    /* A global pointer to it: reachable. */
    global_roots[0] = block;
    if (CHECK_TRUE(scan_as_at_exit(&scan))) {
        EXPECT_CLASS(&scan, block, CLASS_REACHABLE);
        CHECK_EQ_U64(scan.unreachable, 0);
        leak_scan_release(&scan);
    }
    release_all();
}

static void test_layouts(void)
{
    /* Reachable from the program's data, directly and through a block. */
    void *global = new_block(64, 0);
    void *through_global = new_block(48, 0);
    void *through_two = new_block(32, 0);
    global_roots[0] = global;
    set_word(global, 8, through_global);
    set_word(through_global, 40, through_two); /* the last word of the block */
    /* Interior pointer: into the block's middle, and to its last byte. */
    void *interior = new_block(64, 0);
    void *last_byte = new_block(64, 0);
    global_roots[1] = (char *)interior + 40;
    global_roots[2] = (char *)last_byte + 63;
    /* One past the end is not into the block. */
    void *past_end = new_block(64, 0);
    global_roots[3] = (char *)past_end + 64;
    /* A pointer at offset 4: no aligned word holds it. */
    void *unaligned = new_block(32, 0);
    void *unaligned_value = unaligned;
    memcpy((char *)unaligned_root + 4, &unaligned_value, sizeof unaligned_value);
    /* A block of size 0 (malloc(0)): its address is one address in it. */
    void *empty_reached = new_block(0, 0);
    void *empty_leaked = new_block(0, 0);
    global_roots[4] = empty_reached;
    /* Only the block's recorded size is scanned: a word that straddles its end, and one
     * past it (in the allocator's slack), are not. */
    void *sized = new_block(44, 0); /* calloc(44): 56 usable bytes */
    void *at_last_word = new_block(16, 0);
    void *at_straddling_word = new_block(16, 0);
    set_word(global, 16, sized);
    set_word(sized, 32, at_last_word);       /* bytes 32..39 of 44 */
    set_word(sized, 40, at_straddling_word); /* bytes 40..47: beyond 44 */

    /* A leaked list: the head is a leak, the nodes it holds indirect leaks. */
    void *head = new_block(32, 0);
    void *node1 = new_block(32, 0);
    void *node2 = new_block(32, 0);
    void *node3 = new_block(32, 0);
    set_word(head, 0, node1);
    set_word(node1, 0, node2);
    set_word(node2, 8, node3);
    /* A cycle nothing reaches: each block is pointed to by another unreachable one, so both
     * are indirect, as LeakSanitizer says. */
    void *cycle_a = new_block(32, 0);
    void *cycle_b = new_block(32, 0);
    set_word(cycle_a, 0, cycle_b);
    set_word(cycle_b, 16, (char *)cycle_a + 8);
    /* A block that points only to itself: its own pointers do not count. */
    void *self = new_block(48, 0);
    set_word(self, 0, self);
    set_word(self, 24, (char *)self + 32);
    /* A reachable block that a leak also points to stays reachable. */
    void *shared = new_block(32, 0);
    set_word(global, 24, shared);
    set_word(head, 8, shared);

    /* An ignored block nothing points to: reachable, and what it points to too. */
    void *ignored = new_block(32, BLOCK_IGNORED);
    void *ignored_child = new_block(32, 0);
    set_word(ignored, 0, ignored_child);
    /* A leak pointing to an ignored block: the ignored block stays reachable. */
    void *leak_to_ignored = new_block(32, 0);
    void *ignored_pointed = new_block(32, BLOCK_IGNORED);
    set_word(leak_to_ignored, 0, ignored_pointed);
    /* Blocks an earlier scan wrote: unreachable is still a leak (counted), reachable is
     * reachable; their flags stay as they were. */
    void *written_leak = new_block(32, BLOCK_WRITTEN_AT_EXIT);
    void *written_reached = new_block(32, BLOCK_WRITTEN_AT_EXIT);
    global_roots[5] = written_reached;
    /* A block written as `malloc` by a periodic pass, now leaked: gets the exit flag too. */
    void *suspect_leak = new_block(32, BLOCK_WRITTEN_AS_MALLOC);
    void *suspect_reached = new_block(32, BLOCK_WRITTEN_AS_MALLOC);
    set_word(through_two, 0, suspect_reached);

    struct {
        void *block;
        int class;
        const char *name;
        uint8_t flags_before;
    } expected[] = {
        {global, CLASS_REACHABLE, "global", 0},
        {through_global, CLASS_REACHABLE, "through_global", 0},
        {through_two, CLASS_REACHABLE, "through_two", 0},
        {interior, CLASS_REACHABLE, "interior", 0},
        {last_byte, CLASS_REACHABLE, "last_byte", 0},
        {past_end, CLASS_LEAK, "past_end", 0},
        {unaligned, CLASS_LEAK, "unaligned", 0},
        {empty_reached, CLASS_REACHABLE, "empty_reached", 0},
        {empty_leaked, CLASS_LEAK, "empty_leaked", 0},
        {sized, CLASS_REACHABLE, "sized", 0},
        {at_last_word, CLASS_REACHABLE, "at_last_word", 0},
        {at_straddling_word, CLASS_LEAK, "at_straddling_word", 0},
        {head, CLASS_LEAK, "head", 0},
        {node1, CLASS_INDIRECT, "node1", 0},
        {node2, CLASS_INDIRECT, "node2", 0},
        {node3, CLASS_INDIRECT, "node3", 0},
        {cycle_a, CLASS_INDIRECT, "cycle_a", 0},
        {cycle_b, CLASS_INDIRECT, "cycle_b", 0},
        {self, CLASS_LEAK, "self", 0},
        {shared, CLASS_REACHABLE, "shared", 0},
        {ignored, CLASS_REACHABLE, "ignored", BLOCK_IGNORED},
        {ignored_child, CLASS_REACHABLE, "ignored_child", 0},
        {leak_to_ignored, CLASS_LEAK, "leak_to_ignored", 0},
        {ignored_pointed, CLASS_REACHABLE, "ignored_pointed", BLOCK_IGNORED},
        {written_leak, CLASS_LEAK, "written_leak", BLOCK_WRITTEN_AT_EXIT},
        {written_reached, CLASS_REACHABLE, "written_reached", BLOCK_WRITTEN_AT_EXIT},
        {suspect_leak, CLASS_LEAK, "suspect_leak", BLOCK_WRITTEN_AS_MALLOC},
        {suspect_reached, CLASS_REACHABLE, "suspect_reached", BLOCK_WRITTEN_AS_MALLOC},
    };
    const size_t count = sizeof expected / sizeof *expected;
    CHECK_EQ_U64(count, inserted_count);
    size_t unreachable = 0;
    for (size_t i = 0; i < count; i++)
        unreachable += expected[i].class != CLASS_REACHABLE;
    CHECK_EQ_U64(unreachable, 14);

    struct leak_scan first, second;
    if (!CHECK_TRUE(scan_as_at_exit(&first))) {
        release_all();
        return;
    }
    check_copy(&first, __LINE__);
    for (size_t i = 0; i < count; i++) {
        expect_class(&first, expected[i].block, expected[i].class, expected[i].name, __LINE__);
        /* blocks[] keeps the flags from before the scan */
        check_u64(scanned_flags(&first, expected[i].block), expected[i].flags_before, CHECK_EQ,
                  expected[i].name, "flags before", __FILE__, __LINE__);
    }
    CHECK_EQ_U64(first.unreachable, unreachable);

    /* The table now has the exit flag on each unreachable block, and on no other. */
    for (size_t i = 0; i < count; i++) {
        unsigned flags = expected[i].flags_before;
        if (expected[i].class != CLASS_REACHABLE)
            flags |= BLOCK_WRITTEN_AT_EXIT;
        check_u64(table_flags(expected[i].block), flags, CHECK_EQ, expected[i].name,
                  "flags after", __FILE__, __LINE__);
    }

    /* A second run: the same classes and count; blocks[] now shows the exit flags. */
    if (CHECK_TRUE(scan_as_at_exit(&second))) {
        check_copy(&second, __LINE__);
        CHECK_EQ_U64(second.unreachable, first.unreachable);
        for (size_t i = 0; i < count; i++) {
            expect_class(&second, expected[i].block, expected[i].class, expected[i].name,
                         __LINE__);
            unsigned flags = expected[i].flags_before;
            if (expected[i].class != CLASS_REACHABLE)
                flags |= BLOCK_WRITTEN_AT_EXIT;
            check_u64(scanned_flags(&second, expected[i].block), flags, CHECK_EQ,
                      expected[i].name, "flags at the second scan", __FILE__, __LINE__);
        }
        leak_scan_release(&second);
    }

    /* With a thread that blocks the stop signal alive, the scan reads memory through the
     * kernel (memory_map_copy): the same classes, the same count. */
    pthread_t idle_thread;
    if (CHECK_TRUE(start_holder(&idle_holder, &idle_thread, NULL, true, false))) {
        if (CHECK_TRUE(scan_as_at_exit(&second))) {
            check_copy(&second, __LINE__);
            CHECK_EQ_U64(second.unreachable, first.unreachable);
            for (size_t i = 0; i < count; i++)
                expect_class(&second, expected[i].block, expected[i].class, expected[i].name,
                             __LINE__);
            leak_scan_release(&second);
        }
        finish_holder(&idle_holder, idle_thread);
    }
    leak_scan_release(&first);

    /* The leaked list becomes reachable again from a global: head and nodes, and what the
     * head points to; the exit flag, once set, stays. */
    global_roots[6] = head;
    struct leak_scan third;
    if (CHECK_TRUE(scan_as_at_exit(&third))) {
        EXPECT_CLASS(&third, head, CLASS_REACHABLE);
        EXPECT_CLASS(&third, node1, CLASS_REACHABLE);
        EXPECT_CLASS(&third, node2, CLASS_REACHABLE);
        EXPECT_CLASS(&third, node3, CLASS_REACHABLE);
        EXPECT_CLASS(&third, cycle_a, CLASS_INDIRECT);
        CHECK_EQ_U64(third.unreachable, unreachable - 4);
        CHECK_EQ_U64(scanned_flags(&third, head), BLOCK_WRITTEN_AT_EXIT);
        leak_scan_release(&third);
    }
    /* The cycle reached through one of its blocks' interior: both reachable. */
    global_roots[7] = (char *)cycle_b + 31;
    if (CHECK_TRUE(scan_as_at_exit(&third))) {
        EXPECT_CLASS(&third, cycle_a, CLASS_REACHABLE);
        EXPECT_CLASS(&third, cycle_b, CLASS_REACHABLE);
        CHECK_EQ_U64(third.unreachable, unreachable - 6);
        leak_scan_release(&third);
    }
    release_all();
    CHECK_EQ_U64(live_table_count(), 0);
}

/* A leak that a cycle hangs off: the head is the leak, the cycle indirect. A cycle through
 * the head: nothing is a direct leak. */
static void test_cycles(void)
{
    void *head = new_block(32, 0);
    void *ring_a = new_block(32, 0);
    void *ring_b = new_block(32, 0);
    set_word(head, 0, ring_a);
    set_word(ring_a, 0, ring_b);
    set_word(ring_b, 0, ring_a);
    void *loop_head = new_block(32, 0);
    void *loop_node = new_block(32, 0);
    set_word(loop_head, 0, loop_node);
    set_word(loop_node, 0, loop_head);
    struct leak_scan scan;
    if (CHECK_TRUE(scan_as_at_exit(&scan))) {
        check_copy(&scan, __LINE__);
        EXPECT_CLASS(&scan, head, CLASS_LEAK);
        EXPECT_CLASS(&scan, ring_a, CLASS_INDIRECT);
        EXPECT_CLASS(&scan, ring_b, CLASS_INDIRECT);
        EXPECT_CLASS(&scan, loop_head, CLASS_INDIRECT);
        EXPECT_CLASS(&scan, loop_node, CLASS_INDIRECT);
        CHECK_EQ_U64(scan.unreachable, 5);
        leak_scan_release(&scan);
    }
    release_all();
}

/* A block whose memory has an unreadable page in the middle (a block the program then
 * mprotect'ed): the readable parts are scanned, the rest skipped. */
static void test_block_with_unreadable_page(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *region = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                        -1, 0);
    if (!CHECK(region != MAP_FAILED))
        return;
    void *before_hole = new_block(32, 0);
    void *after_hole = new_block(32, 0);
    void *in_hole = new_block(32, 0);
    set_word(region, 8, before_hole);
    set_word(region, page + 16, in_hole);
    set_word(region, 2 * page + page - 8, after_hole); /* the region's last word */
    CHECK_EQ_I64(mprotect(region + page, page, PROT_NONE), 0);
    record(region, 3 * page, 0, false);
    global_roots[0] = region;
    struct leak_scan scan;
    if (CHECK_TRUE(scan_as_at_exit(&scan))) {
        check_copy(&scan, __LINE__);
        EXPECT_CLASS(&scan, region, CLASS_REACHABLE);
        EXPECT_CLASS(&scan, before_hole, CLASS_REACHABLE);
        EXPECT_CLASS(&scan, after_hole, CLASS_REACHABLE);
        EXPECT_CLASS(&scan, in_hole, CLASS_LEAK);
        CHECK_EQ_U64(scan.unreachable, 1);
        leak_scan_release(&scan);
    }
    release_all();
    munmap(region, 3 * page);
}

/* The caller's stack and registers, when given, are roots. */
static __attribute__((noinline)) void scan_with_caller_roots(void *in_stack, void *in_registers,
                                                              struct leak_scan *with,
                                                              struct leak_scan *without)
{
    volatile uintptr_t frame[4] = {0, (uintptr_t)in_stack, 0, 0};
    uintptr_t registers[8] = {1, 2, 3, (uintptr_t)in_registers, 5, 6, 7, 8};
    struct leak_scan_caller caller = {(uintptr_t)frame, registers, sizeof registers, 0, 0};
    leak_scan_begin(with);
    if (!leak_scan_run(with, &caller, flusher_tid, &free_rows))
        memset(with, 0, sizeof *with);
    frame[1] = 0;
    struct leak_scan_caller none = {.stack = 0};
    leak_scan_begin(without);
    if (!leak_scan_run(without, &none, flusher_tid, &free_rows))
        memset(without, 0, sizeof *without);
}

static void test_caller_roots(void)
{
    void *in_stack = new_block(32, 0);
    void *in_registers = new_block(32, 0);
    void *child = new_block(32, 0);
    set_word(in_registers, 0, child);
    struct leak_scan with, without;
    scan_with_caller_roots(in_stack, in_registers, &with, &without);
    if (CHECK_EQ_U64(with.count, 3)) {
        EXPECT_CLASS(&with, in_stack, CLASS_REACHABLE);
        EXPECT_CLASS(&with, in_registers, CLASS_REACHABLE);
        EXPECT_CLASS(&with, child, CLASS_REACHABLE);
        CHECK_EQ_U64(with.unreachable, 0);
    }
    if (CHECK_EQ_U64(without.count, 3)) {
        EXPECT_CLASS(&without, in_stack, CLASS_LEAK);
        EXPECT_CLASS(&without, in_registers, CLASS_LEAK);
        EXPECT_CLASS(&without, child, CLASS_INDIRECT);
        CHECK_EQ_U64(without.unreachable, 3);
    }
    leak_scan_release(&with);
    leak_scan_release(&without);
    release_all();
}

/* A scan another thread runs for the caller, as the flusher does (see flusher.c): the
 * caller's stack, registers and static TLS are the roots given, the runner's are none. */
static __thread void *volatile thread_root;

struct scan_for_caller {
    struct leak_scan_caller caller;
    struct leak_scan scan;
    bool ran;
    uintptr_t runner_block; /* hidden: the request lies on the caller's stack */
};

static void *run_scan_for_caller(void *argument)
{
    struct scan_for_caller *request = argument;
    thread_root = unhide(request->runner_block);
    leak_scan_begin(&request->scan);
    request->ran = leak_scan_run(&request->scan, &request->caller, flusher_tid, &free_rows);
    thread_root = NULL;
    return NULL;
}

static __attribute__((noinline)) void scan_by_another_thread(void *in_stack, void *in_registers,
                                                              struct scan_for_caller *request)
{
    volatile uintptr_t frame[4] = {0, (uintptr_t)in_stack, 0, 0};
    uintptr_t registers[8] = {1, 2, 3, (uintptr_t)in_registers, 5, 6, 7, 8};
    request->caller = (struct leak_scan_caller){(uintptr_t)frame, registers, sizeof registers,
                                                gettid_raw(),
                                                (uintptr_t)__builtin_thread_pointer()};
    pthread_t runner;
    if (CHECK_EQ_I64(pthread_create(&runner, NULL, run_scan_for_caller, request), 0))
        pthread_join(runner, NULL);
    frame[1] = 0;
}

static void test_scan_run_for_another_thread(void)
{
    void *in_stack = new_block(32, 0);
    void *in_registers = new_block(32, 0);
    void *in_thread_storage = new_block(32, 0);
    void *in_runner_storage = new_block(32, 0);
    thread_root = in_thread_storage;
    struct scan_for_caller request = {.runner_block = hide(in_runner_storage)};
    scan_by_another_thread(in_stack, in_registers, &request);
    thread_root = NULL;
    if (CHECK_TRUE(request.ran) && CHECK_EQ_U64(request.scan.count, 4)) {
        EXPECT_CLASS(&request.scan, in_stack, CLASS_REACHABLE);
        EXPECT_CLASS(&request.scan, in_registers, CLASS_REACHABLE);
        EXPECT_CLASS(&request.scan, in_thread_storage, CLASS_REACHABLE);
        EXPECT_CLASS(&request.scan, in_runner_storage, CLASS_LEAK);
        CHECK_EQ_U64(request.scan.unreachable, 1);
    }
    leak_scan_release(&request.scan);
    release_all();
}

static void test_other_threads_locals(void)
{
    /* One thread the signal stops (its registers and stack are roots), one that blocks the
     * signal, in read() (its stack from the kernel's stack pointer is a root); each keeps a
     * block in a local, and the block points to a child. And a leak for contrast. */
    void *kept_by_stopped = new_block(32, 0);
    void *child_of_stopped = new_block(32, 0);
    void *kept_by_unreached = new_block(32, 0);
    void *child_of_unreached = new_block(32, 0);
    void *leak = new_block(32, 0);
    set_word(kept_by_stopped, 0, child_of_stopped);
    set_word(kept_by_unreached, 16, child_of_unreached);
    pthread_t stopped_thread, unreached_thread;
    if (!CHECK_TRUE(start_holder(&stopped_holder, &stopped_thread, kept_by_stopped, false,
                                 false))
        || !CHECK_TRUE(start_holder(&unreached_holder, &unreached_thread, kept_by_unreached,
                                    true, false))) {
        fprintf(stderr, "cannot start the threads\n");
        exit(2);
    }

    for (int run = 0; run < 3; run++) {
        struct leak_scan scan;
        struct stderr_capture capture;
        check_stderr_begin(&capture);
        bool ok = scan_as_at_exit(&scan);
        char *messages = check_stderr_end(&capture);
        CHECK_EQ_STR(messages, ""); /* both threads' stacks known: nothing to say */
        free(messages);
        if (!CHECK_TRUE(ok))
            continue;
        check_copy(&scan, __LINE__);
        EXPECT_CLASS(&scan, kept_by_stopped, CLASS_REACHABLE);
        EXPECT_CLASS(&scan, child_of_stopped, CLASS_REACHABLE);
        EXPECT_CLASS(&scan, kept_by_unreached, CLASS_REACHABLE);
        EXPECT_CLASS(&scan, child_of_unreached, CLASS_REACHABLE);
        EXPECT_CLASS(&scan, leak, CLASS_LEAK);
        CHECK_EQ_U64(scan.unreachable, 1); /* the same at every run */
        leak_scan_release(&scan);
        /* The threads are back in read() before the next scan. */
        CHECK_TRUE(wait_in_read(stopped_holder.tid));
        CHECK_TRUE(wait_in_read(unreached_holder.tid));
    }

    /* The threads end: their locals are gone, and so are the roots. */
    finish_holder(&stopped_holder, stopped_thread);
    finish_holder(&unreached_holder, unreached_thread);
    struct leak_scan scan;
    if (CHECK_TRUE(scan_as_at_exit(&scan))) {
        EXPECT_CLASS(&scan, kept_by_stopped, CLASS_LEAK);
        EXPECT_CLASS(&scan, child_of_stopped, CLASS_INDIRECT);
        EXPECT_CLASS(&scan, kept_by_unreached, CLASS_LEAK);
        EXPECT_CLASS(&scan, child_of_unreached, CLASS_INDIRECT);
        EXPECT_CLASS(&scan, leak, CLASS_LEAK);
        CHECK_EQ_U64(scan.unreachable, 5);
        leak_scan_release(&scan);
    }
    release_all();
}

/* A block whose address only a register of another thread holds: the copy of the registers
 * the stop signal's handler took is a root. A thread that blocks the signal has none: its
 * register is not seen (README: its stack is scanned "without its registers"). */
static void test_register_only(void)
{
    void *in_stopped = new_block(32, 0);
    void *child = new_block(32, 0);
    void *in_unreached = new_block(32, 0);
    set_word(in_stopped, 8, child);
    pthread_t stopped_thread, unreached_thread;
    if (!CHECK_TRUE(start_holder_with(&register_holder, &stopped_thread, in_stopped, false,
                                      false, true))
        || !CHECK_TRUE(start_holder_with(&unreached_register_holder, &unreached_thread,
                                         in_unreached, true, false, true)))
        exit(2);
    for (int run = 0; run < 2; run++) {
        struct leak_scan scan;
        if (CHECK_TRUE(scan_as_at_exit(&scan))) {
            check_copy(&scan, __LINE__);
            EXPECT_CLASS(&scan, in_stopped, CLASS_REACHABLE);
            EXPECT_CLASS(&scan, child, CLASS_REACHABLE);
            EXPECT_CLASS(&scan, in_unreached, CLASS_LEAK);
            CHECK_EQ_U64(scan.unreachable, 1);
            leak_scan_release(&scan);
        }
        CHECK_TRUE(wait_in_read(register_holder.tid));
    }
    finish_holder(&register_holder, stopped_thread);
    finish_holder(&unreached_register_holder, unreached_thread);
    struct leak_scan scan;
    if (CHECK_TRUE(scan_as_at_exit(&scan))) {
        EXPECT_CLASS(&scan, in_stopped, CLASS_LEAK);
        EXPECT_CLASS(&scan, child, CLASS_INDIRECT);
        EXPECT_CLASS(&scan, in_unreached, CLASS_LEAK);
        CHECK_EQ_U64(scan.unreachable, 3);
        leak_scan_release(&scan);
    }
    release_all();
}

/* A thread that blocks the signal and runs: no stack pointer at all. The scan says so on
 * stderr, and what only that thread holds is a leak (README: "may be reported"). */
static void test_running_unreachable_thread(void)
{
    void *kept = new_block(32, 0);
    pthread_t thread;
    if (!CHECK_TRUE(start_holder(&running_holder, &thread, kept, true, true)))
        exit(2);
    struct leak_scan scan;
    struct stderr_capture capture;
    check_stderr_begin(&capture);
    bool ok = scan_as_at_exit(&scan);
    char *messages = check_stderr_end(&capture);
    char expected[160];
    snprintf(expected, sizeof expected,
             "malloc-trace: thread %d could not be stopped for the leak scan: blocks only it "
             "holds may be reported as leaks\n",
             (int)running_holder.tid);
    CHECK_EQ_STR(messages, expected);
    free(messages);
    if (CHECK_TRUE(ok)) {
        EXPECT_CLASS(&scan, kept, CLASS_LEAK);
        CHECK_EQ_U64(scan.unreachable, 1);
        leak_scan_release(&scan);
    }
    finish_holder(&running_holder, thread);
    release_all();
}

int main(void)
{
    alarm(60);
    flusher_lock();
    /* The flusher thread is the only other one at the start. */
    DIR *tasks = opendir("/proc/self/task");
    struct dirent *entry;
    unsigned task_count = 0;
    while (tasks != NULL && (entry = readdir(tasks)) != NULL) {
        pid_t tid = (pid_t)strtol(entry->d_name, NULL, 10);
        if (tid <= 0)
            continue;
        task_count++;
        if (tid != gettid_raw())
            flusher_tid = tid;
    }
    if (tasks != NULL)
        closedir(tasks);
    CHECK_EQ_U64(task_count, 2);
    CHECK(flusher_tid != 0);
    /* The core intercepts no malloc here: the table holds only what the tests insert. */
    CHECK_EQ_U64(live_table_count(), 0);

    RUN_TEST(test_empty_table);
    RUN_TEST(test_main_arena_is_no_root); /* first blocks: carved from the top chunk */
    RUN_TEST(test_layouts);
    RUN_TEST(test_cycles);
    RUN_TEST(test_block_with_unreadable_page);
    RUN_TEST(test_caller_roots);
    RUN_TEST(test_scan_run_for_another_thread);
    RUN_TEST(test_other_threads_locals);
    RUN_TEST(test_register_only);
    RUN_TEST(test_running_unreachable_thread);
    CHECK_EQ_U64(live_table_count(), 0);
    flusher_unlock();
    return check_exit_status();
}
