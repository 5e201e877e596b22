/* leak_scan.c: see leak_scan.h. Everything between stopping the threads and letting them go
 * uses raw system calls and memory from mmap: a stopped thread may hold malloc's lock. */
#define _GNU_SOURCE
#include "leak_scan.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "heap_roots.h"
#include "live_table.h"
#include "memory_map.h"
#include "os.h"
#include "stack_table.h"
#include "thread_slots.h"
#include "thread_stop.h"

enum tag { TAG_NONE, TAG_REACHABLE, TAG_INDIRECT };

struct marker {
    const struct live_block *blocks;
    size_t count;
    uint8_t *tags;          /* enum tag of each block */
    uint32_t *work;         /* reachable blocks whose contents are not scanned yet */
    size_t work_count;
    uintptr_t lowest;       /* the first block's address */
    uintptr_t span;         /* from lowest to the end of the last block */
    uint8_t tag;            /* given to the blocks found */
    bool careful;           /* a thread runs on: read memory through the kernel */
    size_t self;            /* the block being scanned: pointers to itself do not count */
    struct address_range loader_code;
};

/* Whether the dynamic loader allocated the block: the caller of its allocation, the stack's
 * first return address, lies in the loader's code. Stacks are looked up without a lock; the
 * blocks of one stack mostly lie together, so the last answer is kept. */
static bool allocated_by_loader(const struct marker *marker, const struct live_block *block,
                                uint32_t *last_id, bool *last_answer)
{
    if (marker->loader_code.start == marker->loader_code.end
        || block->stack_id == STACK_ID_EMPTY || !stack_table_holds(block->stack_id))
        return false;
    if (block->stack_id != *last_id) {
        const struct stack_record *stack = stack_table_get(block->stack_id);
        uintptr_t caller = stack->depth > 0 ? (uintptr_t)stack->frames[0] : 0;
        *last_id = block->stack_id;
        *last_answer = caller > marker->loader_code.start && caller <= marker->loader_code.end;
    }
    return *last_answer;
}

/* LSD radix sort by address, a byte at a time (a pass whose byte is the same everywhere is
 * skipped): linear in the blocks, where a comparison sort of a million 40-byte records
 * took most of the scan's time. False when the kernel refuses the second buffer. */
static bool sort_by_address(struct live_block *blocks, size_t count)
{
    struct live_block *other = os_map(count ? count * sizeof *other : 1);
    if (other == NULL)
        return false;
    struct live_block *from = blocks, *to = other;
    for (unsigned shift = 0; shift < sizeof(uintptr_t) * 8; shift += 8) {
        size_t buckets[257] = {0};
        for (size_t i = 0; i < count; i++)
            buckets[((from[i].address >> shift) & 0xff) + 1]++;
        if (count == 0 || buckets[((from[0].address >> shift) & 0xff) + 1] == count)
            continue;
        for (unsigned digit = 1; digit < 257; digit++)
            buckets[digit] += buckets[digit - 1];
        for (size_t i = 0; i < count; i++)
            to[buckets[(from[i].address >> shift) & 0xff]++] = from[i];
        struct live_block *swap = from;
        from = to;
        to = swap;
    }
    if (from != blocks)
        memcpy(blocks, from, count * sizeof *blocks);
    os_unmap(other, count ? count * sizeof *other : 1);
    return true;
}

static uint64_t extent(const struct live_block *block)
{
    return block->size ? block->size : 1; /* malloc(0)'s block is still one address */
}

/* The block that contains value, or SIZE_MAX. */
static size_t block_containing(const struct marker *marker, uintptr_t value)
{
    size_t low = 0, high = marker->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (marker->blocks[middle].address <= value)
            low = middle + 1;
        else
            high = middle;
    }
    if (low == 0)
        return SIZE_MAX;
    const struct live_block *block = &marker->blocks[low - 1];
    return value - block->address < extent(block) ? low - 1 : SIZE_MAX;
}

static void mark_value(struct marker *marker, uintptr_t value)
{
    if (value - marker->lowest >= marker->span)
        return;
    size_t found = block_containing(marker, value);
    if (found == SIZE_MAX || found == marker->self || marker->tags[found] != TAG_NONE)
        return;
    marker->tags[found] = marker->tag;
    if (marker->tag == TAG_REACHABLE)
        marker->work[marker->work_count++] = (uint32_t)found;
}

/* Every aligned word of [start, end) taken as a pointer. With a thread left running (one
 * that blocks the stop signal), memory may be unmapped under the scan: it is then copied
 * through the kernel, a page at a time, and what fails to copy is skipped. */
static void scan_words(uintptr_t start, uintptr_t end, void *context)
{
    struct marker *marker = context;
    uintptr_t word = (start + sizeof(uintptr_t) - 1) & ~(uintptr_t)(sizeof(uintptr_t) - 1);
    if (!marker->careful) {
        for (; word < end && end - word >= sizeof(uintptr_t); word += sizeof(uintptr_t))
            mark_value(marker, memory_map_load_word(word));
        return;
    }
    uintptr_t copy[512];
    while (word < end && end - word >= sizeof(uintptr_t)) {
        size_t bytes = (end - word) / sizeof(uintptr_t) * sizeof(uintptr_t);
        if (bytes > sizeof copy)
            bytes = sizeof copy;
        size_t copied = memory_map_copy(word, copy, bytes);
        for (size_t i = 0; i < copied / sizeof(uintptr_t); i++)
            mark_value(marker, copy[i]);
        word += bytes;
    }
}

static void scan_block(struct marker *marker, size_t index, const struct memory_map *map)
{
    const struct live_block *block = &marker->blocks[index];
    marker->self = index;
    memory_map_for_each_readable(map, block->address, block->address + block->size, scan_words,
                                 marker);
}

static void flood_from_work(struct marker *marker, const struct memory_map *map)
{
    while (marker->work_count > 0)
        scan_block(marker, marker->work[--marker->work_count], map);
}

static void scan_root(struct marker *marker, uintptr_t start, uintptr_t end,
                      const struct memory_map *map)
{
    marker->self = SIZE_MAX;
    memory_map_for_each_readable(map, start, end, scan_words, marker);
    flood_from_work(marker, map);
}

/* Marks what the roots reach; then each unreachable block marks the unreachable blocks it
 * points to as indirect (not transitively: every unreachable block is scanned anyway). */
static void classify(struct marker *marker, const struct range_list *roots,
                     const struct thread_stop *threads, const struct leak_scan_caller *caller,
                     const struct memory_map *map)
{
    marker->tag = TAG_REACHABLE;
    uint32_t last_id = STACK_ID_EMPTY;
    bool last_answer = false;
    for (size_t i = 0; i < marker->count; i++) {
        /* reachable, and scanned */
        if ((marker->blocks[i].flags & BLOCK_IGNORED)
            || allocated_by_loader(marker, &marker->blocks[i], &last_id, &last_answer)) {
            marker->tags[i] = TAG_REACHABLE;
            marker->work[marker->work_count++] = (uint32_t)i;
        }
    }
    flood_from_work(marker, map);
    marker->self = SIZE_MAX;
    if (caller->registers != NULL) {
        scan_words((uintptr_t)caller->registers,
                   (uintptr_t)caller->registers + caller->registers_size, marker);
        flood_from_work(marker, map);
    }
    for (size_t i = 0; i < threads->count; i++) {
        const struct stopped_thread *thread = &threads->threads[i];
        if (atomic_load(&thread->state) != THREAD_STOPPED)
            continue;
        marker->self = SIZE_MAX;
        scan_words((uintptr_t)&thread->registers,
                   (uintptr_t)&thread->registers + sizeof thread->registers, marker);
        flood_from_work(marker, map);
    }
    for (size_t i = 0; i < roots->count; i++)
        scan_root(marker, roots->ranges[i].start, roots->ranges[i].end, map);
    marker->tag = TAG_INDIRECT;
    for (size_t i = 0; i < marker->count; i++)
        if (marker->tags[i] != TAG_REACHABLE)
            scan_block(marker, i, map);
}

static uintptr_t main_thread_pointer;

void leak_scan_remember_main_thread(void)
{
    if (syscall(SYS_gettid) == getpid())
        main_thread_pointer = (uintptr_t)__builtin_thread_pointer();
}

/* Threads whose stack could not be found, named after the threads run on again (a stopped
 * thread may be the one that drains our stderr). */
struct unseen_threads {
    pid_t tids[8];
    size_t count;
};

/* What the scan needs of the threads, read while they are stopped; and the blocks threads
 * are moving (realloc), which no table holds meanwhile. */
static bool add_thread_roots(struct range_list *roots, const struct thread_stop *threads,
                             const struct leak_scan_caller *caller, const struct memory_map *map,
                             struct unseen_threads *unseen)
{
    uintptr_t caller_thread_pointer = caller->thread_pointer != 0
                                          ? caller->thread_pointer
                                          : (uintptr_t)__builtin_thread_pointer();
    bool ok = heap_roots_add_thread(roots, caller->stack, caller_thread_pointer, map, false);
    for (size_t i = 0; i < threads->count; i++) {
        const struct stopped_thread *thread = &threads->threads[i];
        int state = atomic_load(&thread->state);
        if (state == THREAD_GONE)
            continue;
        if (thread->stack_pointer == 0 && unseen->count < 8)
            unseen->tids[unseen->count++] = thread->tid;
        uintptr_t thread_pointer = state == THREAD_STOPPED ? thread->thread_pointer
                                   : thread->tid == getpid() ? main_thread_pointer
                                                             : 0;
        ok &= heap_roots_add_thread(roots, thread->stack_pointer, thread_pointer, map, true);
    }
    for (const struct thread_slot *slot = thread_slot_first(); slot != NULL; slot = slot->next) {
        uintptr_t moving = atomic_load(&slot->moving);
        if (moving != 0)
            ok &= range_list_add(roots, moving, moving + atomic_load(&slot->moving_size));
    }
    return ok;
}

static bool any_thread_running(const struct thread_stop *threads)
{
    for (size_t i = 0; i < threads->count; i++)
        if (atomic_load(&threads->threads[i].state) == THREAD_UNREACHED)
            return true;
    return false;
}

static void *map_array(size_t count, size_t size)
{
    return os_map(count ? count * size : 1);
}

void leak_scan_begin(struct leak_scan *scan)
{
    memset(scan, 0, sizeof *scan);
    scan->modules_read =
        heap_roots_add_modules(&scan->module_roots, &scan->libc_data, &scan->modules);
    scan->loader_code = heap_roots_loader_code();
}

/* A realloc under way on another thread: its block is in no shard between the two hooks
 * (thread_slots.h), and a scan then gave it no row (its `malloc` row left unsettled at
 * exit). The scan lets such moves end first, with the table unlocked (a move's end takes a
 * shard's lock), a while at most, and holds new ones back meanwhile: a thread that reallocs
 * without a pause had one under way nearly all the time, and under make check's load the
 * scan's wait ran out (1 exit in 10 of a thread growing 1-MiB blocks). A move held back
 * waits as long at most, so that no scan keeps a program's realloc for ever. A move that
 * begins once the scan has found none under way takes its block out under the shard's lock,
 * which the scan holds until it has copied the table: it finds its block there. */
#define MOVE_PAUSE_NS 50000L
#define MOVE_WAITS 2000u

atomic_bool leak_scan_holding_moves;

static void pause_for_moves(void)
{
    struct timespec pause = {0, MOVE_PAUSE_NS};
    nanosleep(&pause, NULL);
}

void leak_scan_wait_to_move(void)
{
    int saved_errno = errno; /* EINTR, where a signal cuts a pause short */
    for (unsigned waits = 0; atomic_load(&leak_scan_holding_moves) && waits < MOVE_WAITS; waits++)
        pause_for_moves();
    errno = saved_errno;
}

static bool a_move_is_under_way(void)
{
    for (const struct thread_slot *slot = thread_slot_first(); slot != NULL; slot = slot->next)
        if (slot != thread_slot_mine && atomic_load(&slot->moving) != 0)
            return true;
    return false;
}

bool leak_scan_run(struct leak_scan *scan, const struct leak_scan_caller *caller,
                   pid_t skip_tid, struct event_log *free_rows)
{
    struct range_list *roots = &scan->module_roots, *libc_data = &scan->libc_data;
    struct memory_map map = {0};
    static struct thread_stop threads; /* kept: a late handler may still read it */
    struct unseen_threads unseen = {.count = 0};
    bool ok = scan->modules_read;

    atomic_store(&leak_scan_holding_moves, true);
    live_table_lock_all();
    for (unsigned waits = 0; a_move_is_under_way() && waits < MOVE_WAITS; waits++) {
        live_table_unlock_all();
        pause_for_moves();
        live_table_lock_all();
    }
    atomic_store(&leak_scan_holding_moves, false);
    /* A block freed after the caller took the queued rows, and before this lock, is in no
     * copy: its late `free` row, left queued, was lost at exit (no pass comes after). */
    unsigned scan_number = live_table_begin_scan_locked(free_rows);
    size_t count = live_table_count_locked();
    scan->capacity = count;
    scan->blocks = map_array(count, sizeof *scan->blocks);
    scan->classes = map_array(count, sizeof *scan->classes);
    uint32_t *work = map_array(count, sizeof *work);
    ok &= scan->blocks != NULL && scan->classes != NULL && work != NULL;
    if (ok) {
        scan->count = live_table_copy_locked(scan->blocks, count);
        ok = sort_by_address(scan->blocks, scan->count);
    }
    /* No block left, nothing to classify: no thread is stopped, no root read (a process that
     * frees all it allocates spent an eighth of its traced run in the scan of its roots). */
    if (ok && scan->count > 0) {
        /* The thread that runs the scan is never stopped: where it is not the caller, the
         * caller is the one left out instead of skip_tid (the flusher, running it). */
        pid_t self = os_thread_id();
        thread_stop_all(&threads, caller->tid != 0 && caller->tid != self ? caller->tid : skip_tid,
                        live_table_is_shard_lock);
        ok = memory_map_read(&map);
        if (ok) {
            heap_roots_cut_allocator_state(roots, libc_data, &map);
            ok = heap_roots_add_new_modules(roots, &scan->modules, &map)
                 && add_thread_roots(roots, &threads, caller, &map, &unseen)
                 && heap_roots_add_control_blocks(roots, &map);
        }
        if (ok) {
            const struct live_block *last = &scan->blocks[scan->count ? scan->count - 1 : 0];
            struct marker marker = {
                .blocks = scan->blocks,
                .count = scan->count,
                .tags = scan->classes,
                .work = work,
                .lowest = scan->count ? scan->blocks[0].address : 0,
                .span = scan->count ? last->address + extent(last) - scan->blocks[0].address : 0,
                .careful = any_thread_running(&threads),
                .loader_code = scan->loader_code,
            };
            classify(&marker, roots, &threads, caller, &map);
        }
        thread_stop_resume(&threads);
        for (size_t i = 0; i < unseen.count; i++)
            os_message("thread %d could not be stopped for the leak scan: blocks only it holds "
                       "may be reported as leaks", (int)unseen.tids[i]);
    }
    if (ok) {
        for (size_t i = 0; i < scan->count; i++) {
            const struct live_block *block = &scan->blocks[i];
            enum tag tag = scan->classes[i];
            scan->classes[i] = tag == TAG_REACHABLE  ? CLASS_REACHABLE
                               : tag == TAG_INDIRECT ? CLASS_INDIRECT
                                                     : CLASS_LEAK;
            if (tag == TAG_REACHABLE || (block->flags & BLOCK_IGNORED))
                continue;
            scan->unreachable++;
            if (!(block->flags & BLOCK_WRITTEN_AT_EXIT))
                live_table_add_flags_locked(block->address, BLOCK_WRITTEN_AT_EXIT);
        }
    }
    live_table_unlock_all();
    live_table_end_scan(scan_number, free_rows);
    os_unmap(work, count ? count * sizeof *work : 1);
    memory_map_release(&map);
    range_list_release(roots);
    range_list_release(libc_data);
    range_list_release(&scan->modules.dynamic_sections);
    if (!ok)
        leak_scan_release(scan);
    return ok;
}

void leak_scan_release(struct leak_scan *scan)
{
    range_list_release(&scan->module_roots);
    range_list_release(&scan->libc_data);
    range_list_release(&scan->modules.dynamic_sections);
    size_t count = scan->capacity;
    os_unmap(scan->blocks, count ? count * sizeof *scan->blocks : 1);
    os_unmap(scan->classes, count ? count * sizeof *scan->classes : 1);
    memset(scan, 0, sizeof *scan);
}
