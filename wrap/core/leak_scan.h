/* leak_scan.h: which live blocks the program can still reach, as LeakSanitizer decides it:
 * a block is reachable when a pointer to it (or into it) lies in a root (heap_roots.h) or
 * in a reachable block; an unreachable block pointed to by another unreachable one is an
 * indirect leak, any other unreachable block a (direct) leak. */
#ifndef MALLOC_TRACE_LEAK_SCAN_H
#define MALLOC_TRACE_LEAK_SCAN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "events.h"

struct event_log;
#include "heap_roots.h"

enum block_class { CLASS_REACHABLE, CLASS_LEAK, CLASS_INDIRECT };

struct leak_scan {
    struct live_block *blocks; /* every live block at the time of the scan, by address */
    uint8_t *classes;          /* enum block_class of each */
    size_t count;
    size_t unreachable;        /* leaks and indirect leaks among the blocks not ignored */
    size_t capacity;           /* blocks[] and classes[] were mapped for this many */
    /* Between leak_scan_begin and leak_scan_run: what the loader said. */
    struct range_list module_roots, libc_data;
    struct modules_seen modules;
    bool modules_read;
    struct address_range loader_code; /* see heap_roots_loader_code */
};

/* The roots of the thread that asked for the scan: its stack from stack up (none when 0: at
 * exit no frame of the exiting thread runs again), a copy of its registers, and its static
 * thread-local storage around thread_pointer. It waits for the scan, unstopped, and may be
 * another thread than the one that runs it (the flusher: see flusher.c); tid and
 * thread_pointer 0 stand for the thread that runs it. */
struct leak_scan_caller {
    uintptr_t stack;
    const void *registers;
    size_t registers_size;
    pid_t tid;
    uintptr_t thread_pointer;
};

/* Asks the loader for the modules' writable segments: the one step of a scan that takes
 * the loader's locks, so that a caller can take a lock that a thread holding them may wait
 * for (the exit pass: see flusher.c) between this and leak_scan_run. */
void leak_scan_begin(struct leak_scan *scan);

/* After leak_scan_begin: stops the other threads (but the caller and skip_tid), classifies
 * every live block and lets the threads go on. Each unreachable block that is not ignored
 * and has no exit row yet gets BLOCK_WRITTEN_AT_EXIT in the live table; blocks[] keeps the
 * flags from before. The `free` rows queued until the table was copied are moved to
 * free_rows: they are of blocks not in blocks[], and must come before their rows. False
 * when memory for the scan is refused, or the process's map cannot be read (nothing is
 * marked). */
bool leak_scan_run(struct leak_scan *scan, const struct leak_scan_caller *caller,
                   pid_t skip_tid, struct event_log *free_rows);

/* Releases what leak_scan_begin and leak_scan_run took; again, or after a begin with no run,
 * too. */
void leak_scan_release(struct leak_scan *scan);

/* Called by the main thread at start: its thread pointer, for the scans where it cannot be
 * stopped (its TLS lies apart from its stack). */
void leak_scan_remember_main_thread(void);

/* Set while a scan waits for the reallocs under way on other threads to end (see
 * leak_scan.c): a realloc that has not taken its block out of the table yet waits for it. */
extern atomic_bool leak_scan_holding_moves;
void leak_scan_wait_to_move(void);

/* Called by realloc's hook before its block leaves the table. Inline: every realloc asks. */
static inline void leak_scan_before_move(void)
{
    if (__builtin_expect(atomic_load_explicit(&leak_scan_holding_moves, memory_order_relaxed), 0))
        leak_scan_wait_to_move();
}

#endif
