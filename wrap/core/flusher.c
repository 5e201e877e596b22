/* flusher.c: see flusher.h. */
#define _GNU_SOURCE
#include "flusher.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "csv_writer.h"
#include "event_log.h"
#include "leak_scan.h"
#include "live_table.h"
#include "memory_map.h"
#include "os.h"
#include "pass_stack.h"
#include "stack_json.h"
#include "symbolizer.h"
#include "tracer.h"

static pthread_mutex_t flush_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wait_cond;
static bool wake_requested;
static bool finished;           /* under flush_lock: no pass after the exit pass */
static atomic_bool running;     /* this process has a flusher thread, or is starting one */
/* A leak pass another thread hands the flusher (see run_leak_pass), under wait_lock with
 * the two below: the thread, joinable, takes them while it can. */
struct handed_pass;
static struct handed_pass *handed;
static pthread_cond_t handed_cond; /* a handed pass is done, or the slot is free */
static bool taking_passes;
static bool flusher_lost; /* it ended while the process runs on */
static pthread_t flusher_thread;
/* The process it runs in: a child made by a raw clone system call (vsftpd's sessions), which
 * no fork handler sees, has a copy of these and no flusher. */
static pid_t flusher_process;
static struct settings config;  /* a copy: settings are read once, at start */
static struct event_log rows;   /* reused between passes, under flush_lock */
static _Atomic pid_t flusher_thread_id; /* the leak scan leaves it running */

static const char *row_function(enum event_kind kind)
{
    switch (kind) {
    case EVENT_MALLOC:
        return "malloc";
    case EVENT_FREE:
        return "free";
    case EVENT_LEAK:
        return "leak";
    case EVENT_INDIRECT:
        return "indirect";
    case EVENT_REACHABLE:
        return "reachable";
    }
    return "?";
}

/* Called with flush_lock held and the guard set: writes what log (always rows) holds, and
 * empties it (rows the file refused are lost: the writer said why), keeping room for rows
 * when memory runs out: a pass short of memory writes them that many at a time. */
static void write_batch(struct event_log *log)
{
    if (csv_writer_begin()) {
        stack_json_new_batch();
        for (size_t i = 0; i < log->count; i++) {
            const struct trace_event *row = &log->events[i];
            csv_writer_row(row_function((enum event_kind)row->kind), row->thread_id,
                           row->address, row->size, row->time_ms,
                           stack_json_frame0((enum entry_point)row->entry_point),
                           stack_json_frames(row->stack_id, config.symbols));
        }
        csv_writer_end();
    }
    event_log_clear(log);
    event_log_hold(log, EVENT_LOG_KEPT_BYTES / sizeof *log->events);
}

/* The pass's last batch, and one line for the rows it found no memory for. */
static void write_rows(struct event_log *log)
{
    write_batch(log);
    if (log->refused != 0)
        os_message("out of memory for the tracer's own tables: %zu row%s not written in this "
                   "pass", log->refused, log->refused == 1 ? "" : "s");
    log->refused = 0;
}

static void write_pass(enum live_table_pass pass)
{
    live_table_collect(pass, os_now_ms(), (uint64_t)config.period_seconds * 1000u, &rows,
                       write_batch);
    write_rows(&rows);
}

static void push_row(const struct live_block *block, enum event_kind kind)
{
    struct trace_event event = event_of_block(block, kind);
    if (!event_log_push(&rows, &event) && rows.count != 0) {
        rows.refused--; /* not lost yet: written, rows has room again */
        write_batch(&rows);
        event_log_push(&rows, &event); /* a refusal is counted, and told by write_rows */
    }
}

/* After leak_scan_begin, the scan's verdicts: a `leak` or `indirect` row for each
 * unreachable block not written before, and at exit a `reachable` row for each reachable
 * block when asked for, and always for a block written as `malloc` (its exit row settles
 * that suspect). Returns the unreachable blocks found, or -1. */
static long push_leak_rows(struct leak_scan *scan, const struct leak_scan_caller *caller,
                           bool at_exit)
{
    if (!leak_scan_run(scan, caller, atomic_load(&flusher_thread_id), &rows)) {
        os_message("the leak scan cannot run (no memory, or /proc/self/maps cannot be read: "
                   "a chroot, a limit on descriptors): %s",
                   at_exit ? "every block left is written as a leak" : "no rows written");
        if (at_exit)
            live_table_collect(PASS_EXIT, 0, 0, &rows, write_batch);
        return -1;
    }
    for (size_t i = 0; i < scan->count; i++) {
        const struct live_block *block = &scan->blocks[i];
        if (block->flags & BLOCK_IGNORED) {
            /* Ignored after its `malloc` row was written: only this row settles that one. */
            if (at_exit && block_freed_late(block->flags))
                push_row(block, EVENT_REACHABLE);
            continue;
        }
        switch ((enum block_class)scan->classes[i]) {
        case CLASS_LEAK:
        case CLASS_INDIRECT:
            if (!(block->flags & BLOCK_WRITTEN_AT_EXIT))
                push_row(block, scan->classes[i] == CLASS_LEAK ? EVENT_LEAK : EVENT_INDIRECT);
            break;
        case CLASS_REACHABLE: /* a block written as leak before keeps that verdict */
            if (at_exit && !(block->flags & BLOCK_WRITTEN_AT_EXIT)
                && (config.reachable || (block->flags & BLOCK_WRITTEN_AS_MALLOC)))
                push_row(block, EVENT_REACHABLE);
            break;
        }
    }
    long unreachable = (long)scan->unreachable;
    leak_scan_release(scan);
    return unreachable;
}

/* glibc (2.36) gives exit() called by a second thread, while the first runs the exit pass,
 * no handler to run (the first took them all): it goes straight on to end the process, which
 * killed the pass half-way (every exit row lost, or the last line cut). On its way it flushes
 * stdio under the lock of the list of streams (_IO_cleanup), as every path to the end of a
 * process through exit does, main's return included: held for the pass, that lock makes the
 * second exit wait for the pass's end. A thread may hold it while it waits for a lock of ours
 * or of the loader's (a constructor that opens a file in dlopen, a dl_iterate_phdr callback
 * that does): so it is taken after flush_lock (as fork takes them), and after the scan has
 * asked the loader (leak_scan_begin), and nothing under it asks the loader; and before the
 * program's threads are stopped, so that none of them holds it. Nothing of the tracer's
 * takes it otherwise (the symbolizer reads /proc/self/maps without stdio). Weak: a C library
 * without them leaves the race as it was. */
extern void _IO_list_lock(void) __attribute__((weak));
extern void _IO_list_unlock(void) __attribute__((weak));

static bool can_hold_other_exits(void)
{
    return _IO_list_lock != NULL && _IO_list_unlock != NULL;
}

struct leak_pass {
    struct leak_scan scan; /* begun by the caller */
    struct leak_scan_caller caller;
    bool at_exit;
    bool may_allocate; /* at exit: see flusher_exit_pass */
    long found;        /* -1 until it ran */
};

/* Under flush_lock, on the flusher or on the caller (see run_leak_pass). */
static void write_leak_pass(void *pass_pointer)
{
    struct leak_pass *pass = pass_pointer;
    if (finished) {
        leak_scan_release(&pass->scan);
        return;
    }
    if (pass->at_exit) {
        finished = true;
        if (!pass->may_allocate) {
            /* libdw, the demangler and realpath allocate, and the pass needs nothing else
             * that does. */
            os_message("exit() was called in a signal handler that interrupted malloc: frames "
                       "not named before are written as MODULE+0xOFFSET");
            stack_json_forbid_allocation();
        }
    }
    /* No handler of the program's runs on this thread meanwhile: one that allocates would
     * wait for a stopped thread's malloc lock, and its frees would pass unseen. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    live_table_collect(PASS_FREE_ROWS, 0, 0, &rows, write_batch); /* the free rows first */
    bool hold_other_exits = pass->at_exit && can_hold_other_exits();
    if (hold_other_exits)
        _IO_list_lock();
    pass->found = push_leak_rows(&pass->scan, &pass->caller, pass->at_exit);
    write_rows(&rows);
    if (hold_other_exits)
        _IO_list_unlock();
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
}

/* ---- a leak pass handed to the flusher ------------------------------------------------
 * The pass makes system calls the program never makes (rt_sigaction to choose its stop
 * signal, tgkill, fcntl, lseek, getdents64, sched_yield): on a thread under a seccomp
 * filter that kills at any call it does not expect (sshd's child before authentication,
 * vsftpd's), the exiting thread died there, and the process with it, by SIGSYS. So the
 * caller asks the loader (leak_scan_begin: a thread that exits inside dlopen's constructors
 * holds the loader's lock, which the flusher would wait for) and hands the rest to the
 * flusher, which a filter installed later on another thread does not cover; it waits with
 * every signal blocked, in futex calls only. The flusher runs it only for a caller under a
 * filter (or whose status it cannot read), and hands it back otherwise: a caller may hold a
 * lock of the C library's that the pass takes, which a pass on the caller's thread takes
 * again (glibc's list of streams, recursive: a SIGTERM handler that calls exit while it
 * interrupts fflush), and the flusher would wait for for ever. Where there is no flusher
 * (a child before its first allocation, a thread that could not start), or it ended, the
 * caller runs the pass itself, on the tracer's own stack (see pass_stack.h). */
struct handed_pass {
    struct leak_pass *pass;
    bool done;
    bool ran; /* by the flusher; else handed back */
};

/* Whether thread tid has a seccomp filter (or strict mode), as /proc says; true when it
 * cannot be read. */
static bool under_seccomp(pid_t tid)
{
    char path[64], status[4096];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
    if (memory_map_read_small_file(path, status, sizeof status) <= 0)
        return true;
    const char *line = strstr(status, "\nSeccomp:");
    return line == NULL || strtol(line + sizeof "\nSeccomp:" - 1, NULL, 10) != 0;
}

#define HANDED_WAIT_SECONDS 1

/* Whether the flusher ran the pass, or it ended with the pass in hand (nothing more to do);
 * false when the caller is to run it. */
static bool hand_to_flusher(struct leak_pass *pass)
{
    if (!atomic_load(&running))
        return false;
    pid_t process = getpid();
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    struct handed_pass mine = {pass, false, false};
    bool posted = false, lost = false;
    pthread_mutex_lock(&wait_lock);
    while (!mine.done && (taking_passes || posted) && !flusher_lost
           && flusher_process == process) {
        if (!posted && handed == NULL) {
            handed = &mine;
            posted = true;
            pthread_cond_signal(&wait_cond);
        }
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += HANDED_WAIT_SECONDS;
        if (pthread_cond_timedwait(&handed_cond, &wait_lock, &deadline) == ETIMEDOUT
            && pthread_tryjoin_np(flusher_thread, NULL) == 0) {
            /* It ended without ending the process: killed by a seccomp filter that covers it
             * too, maybe holding flush_lock, which no pass can take any more. */
            flusher_lost = lost = true;
            taking_passes = false;
            if (handed == &mine)
                handed = NULL;
        }
    }
    bool ran = (mine.done && mine.ran) || flusher_lost;
    pthread_mutex_unlock(&wait_lock);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (lost)
        os_message("the flusher thread was killed (by a seccomp filter?): no more rows are "
                   "written");
    return ran;
}

/* On the flusher, woken with a pass in hand (wait_lock not held). */
static void run_handed_pass(struct handed_pass *taken)
{
    bool ran = under_seccomp(taken->pass->caller.tid);
    if (ran) {
        pthread_mutex_lock(&flush_lock);
        write_leak_pass(taken->pass);
        pthread_mutex_unlock(&flush_lock);
    }
    pthread_mutex_lock(&wait_lock);
    taken->ran = ran;
    taken->done = true;
    handed = NULL;
    if (finished)
        taking_passes = false; /* it ends now */
    pthread_cond_broadcast(&handed_cond);
    pthread_mutex_unlock(&wait_lock);
}

/* Begins the scan here, then has the flusher run the pass, or runs it here. */
static long run_leak_pass(struct leak_pass *pass)
{
    leak_scan_begin(&pass->scan);
    if (!hand_to_flusher(pass)) {
        pthread_mutex_lock(&flush_lock); /* which the pass stack is under, too */
        pass_stack_run(write_leak_pass, pass);
        pthread_mutex_unlock(&flush_lock);
    }
    return pass->found;
}

/* glibc's count of the live threads (a private symbol of libc.so and libc.a): the thread
 * that takes it to 0 ends the process with exit(0), as when main called pthread_exit and
 * its last thread returns. The flusher leaves it, as if it were not there: counted, it kept
 * such a process alive for ever, waiting for a thread that never ends. Weak: a C library
 * without it keeps that behaviour. */
extern unsigned int __nptl_nthreads __attribute__((weak));

static void change_thread_count(int change)
{
    if (&__nptl_nthreads != NULL)
        __atomic_fetch_add(&__nptl_nthreads, (unsigned)change, __ATOMIC_SEQ_CST);
}

/* A program's last thread may end with the exit system call itself (a program under
 * seccomp's strict mode has no other way out, nor has a runtime of its own that ends its
 * threads so): untraced the process ends then, with that thread's status; traced, the flusher
 * kept it alive for ever, blocking every signal, so that only SIGKILL ended it. So the
 * flusher looks that often whether it is the last thread left, beside a main thread that
 * has ended (a zombie, still counted). It then ends too, with the main thread's status,
 * and, as after _exit, no exit pass. */
#define LAST_THREAD_CHECK_SECONDS 1

static void end_if_last_thread(void)
{
    char text[4096];
    if (memory_map_read_small_file("/proc/self/stat", text, sizeof text) <= 0)
        return;
    const char *name_end = strrchr(text, ')');
    if (name_end == NULL || strncmp(name_end, ") Z", 3) != 0)
        return;
    /* Its last field: the main thread's status as waitpid reports it (Linux 3.5 and later). */
    size_t length = strlen(text);
    while (length > 0 && (text[length - 1] == '\n' || text[length - 1] == ' '))
        text[--length] = '\0';
    const char *last_field = strrchr(text, ' ');
    long status = last_field != NULL ? strtol(last_field + 1, NULL, 10) : 0;
    if (memory_map_read_small_file("/proc/self/status", text, sizeof text) <= 0)
        return;
    const char *threads = strstr(text, "\nThreads:");
    if (threads == NULL || strtol(threads + 9, NULL, 10) != 2)
        return;
    int signal_number = (int)(status & 0x7f);
    if (signal_number != 0) {
        /* The main thread was killed by a signal of its own (a seccomp filter's SIGSYS, at a
         * system call the exit pass made): the process ends by it, as it would have with no
         * other thread left. */
        struct sigaction default_action;
        memset(&default_action, 0, sizeof default_action);
        default_action.sa_handler = SIG_DFL;
        sigaction(signal_number, &default_action, NULL);
        sigset_t only;
        sigemptyset(&only);
        sigaddset(&only, signal_number);
        pthread_sigmask(SIG_UNBLOCK, &only, NULL);
        syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), signal_number);
    }
    syscall(SYS_exit, (status >> 8) & 0xff);
}

/* The flush lock, looking every LAST_THREAD_CHECK_SECONDS whether the program's threads are
 * all gone: a main thread killed inside the exit pass (by its own seccomp filter: sshd's
 * child before authentication) held it for ever, and the process with it. */
static void lock_flush_lock(void)
{
    for (;;) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += LAST_THREAD_CHECK_SECONDS;
        int error = pthread_mutex_timedlock(&flush_lock, &deadline);
        if (error == 0)
            return;
        if (error != ETIMEDOUT) {
            pthread_mutex_lock(&flush_lock);
            return;
        }
        end_if_last_thread();
    }
}

/* Waits for a wake, a handed pass or the deadline, looking every LAST_THREAD_CHECK_SECONDS
 * whether the program's threads are all gone; false at the deadline. Called with wait_lock
 * held. */
static bool wait_for_work(const struct timespec *deadline)
{
    while (!wake_requested && handed == NULL) {
        struct timespec slice;
        clock_gettime(CLOCK_MONOTONIC, &slice);
        slice.tv_sec += LAST_THREAD_CHECK_SECONDS;
        bool last_slice = slice.tv_sec > deadline->tv_sec
                          || (slice.tv_sec == deadline->tv_sec && slice.tv_nsec >= deadline->tv_nsec);
        if (pthread_cond_timedwait(&wait_cond, &wait_lock, last_slice ? deadline : &slice)
            == ETIMEDOUT) {
            if (last_slice)
                return false;
            pthread_mutex_unlock(&wait_lock);
            end_if_last_thread();
            /* A limit set by another process (prlimit(1)), or by a system call of the
             * program's own rather than libc's function, which the tracer does not see. */
            os_read_address_space_limit();
            pthread_mutex_lock(&wait_lock);
        }
    }
    return true;
}

static void *flusher_main(void *unused)
{
    (void)unused;
    malloc_trace_guard += MALLOC_TRACE_GUARD_INTERNAL; /* for the thread's whole life */
    /* Before the thread says it runs: the thread that started it waits for that, so the
     * count cannot reach 0 on the program's side first. */
    change_thread_count(-1);
    atomic_store(&flusher_thread_id, os_thread_id());
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += config.period_seconds;
    for (;;) {
        pthread_mutex_lock(&wait_lock);
        bool woken = wait_for_work(&deadline);
        struct handed_pass *taken = handed;
        bool periodic = !woken || wake_requested;
        wake_requested = false;
        pthread_mutex_unlock(&wait_lock);
        if (taken != NULL)
            run_handed_pass(taken);

        bool stop;
        if (periodic) {
            lock_flush_lock();
            stop = finished;
            if (!stop)
                write_pass(PASS_PERIODIC);
            pthread_mutex_unlock(&flush_lock);
            /* After a wake, the next period starts now. */
            if (woken)
                clock_gettime(CLOCK_MONOTONIC, &deadline);
            deadline.tv_sec += config.period_seconds;
        } else {
            pthread_mutex_lock(&flush_lock);
            stop = finished;
            pthread_mutex_unlock(&flush_lock);
        }
        if (stop) {
            change_thread_count(1); /* glibc takes the thread off as it returns */
            return NULL;
        }
    }
}

static void init_wait_conds(void)
{
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&wait_cond, &attributes);
    pthread_cond_init(&handed_cond, &attributes);
    pthread_condattr_destroy(&attributes);
}

/* The thread runs on a stack of the tracer's own (glibc puts the thread's descriptor and
 * static TLS at its top). glibc caches the stacks it makes, and in a forked child frees the
 * cached ones' thread-local storage as the program's threads come and go: the flusher's,
 * allocated as the tracer's own memory and so never recorded, was then an orphan `free` row
 * in such a child. A stack given with pthread_attr_setstack is neither cached nor freed. A
 * child's flusher takes its parent's stack, which no thread uses there. */
#define FLUSHER_STACK_BYTES ((size_t)8 << 20)
#define GUARD_PAGE_BYTES ((size_t)4096)
static void *flusher_stack;
static size_t flusher_stack_bytes;

void flusher_leave_parents_stack(void)
{
    flusher_stack = NULL;
}

static bool set_own_stack(pthread_attr_t *attributes)
{
    if (flusher_stack == NULL) {
        size_t bytes = FLUSHER_STACK_BYTES;
        char *reserved = os_reserve(&bytes);
        /* The lowest page stays inaccessible: an overflow faults rather than write below. */
        if (reserved == NULL
            || !os_commit(reserved + GUARD_PAGE_BYTES, bytes - GUARD_PAGE_BYTES)) {
            os_unmap(reserved, bytes);
            return false;
        }
        flusher_stack = reserved + GUARD_PAGE_BYTES;
        flusher_stack_bytes = bytes - GUARD_PAGE_BYTES;
    }
    return pthread_attr_setstack(attributes, flusher_stack, flusher_stack_bytes) == 0;
}

static void start_thread(void)
{
    /* Every signal blocked, so that the program's handlers never run on our thread (the
     * new thread inherits the mask). */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pthread_t thread;
    /* pthread_create allocates: the tracer's own memory, even when called from a hook. */
    malloc_trace_guard += MALLOC_TRACE_GUARD_INTERNAL;
    pthread_attr_t attributes;
    bool attributes_made = pthread_attr_init(&attributes) == 0;
    bool own_stack = attributes_made && set_own_stack(&attributes);
    int error = pthread_create(&thread, own_stack ? &attributes : NULL, flusher_main, NULL);
    if (attributes_made)
        pthread_attr_destroy(&attributes);
    malloc_trace_guard -= MALLOC_TRACE_GUARD_INTERNAL;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (error != 0) {
        os_message("cannot start the flusher thread (%s): only the exit rows are written",
                   os_error_text(error));
        return;
    }
    /* The leak scan must know the thread as ours from its first moment: it blocks every
     * signal, so it could not be stopped, and needs no stopping. */
    while (atomic_load(&flusher_thread_id) == 0)
        sched_yield();
    /* Joinable, never joined but to learn that it ended (see hand_to_flusher). */
    pthread_mutex_lock(&wait_lock);
    flusher_thread = thread;
    flusher_process = getpid();
    taking_passes = true;
    pthread_mutex_unlock(&wait_lock);
}

void flusher_start(const struct settings *settings)
{
    config = *settings;
    symbolizer_start();
    pass_stack_reserve();
    event_log_hold(&rows, EVENT_LOG_KEPT_BYTES / sizeof *rows.events);
    csv_writer_configure(config.out_file_path, config.out_file_max_size);
    init_wait_conds();
    pthread_mutex_lock(&flush_lock);
    if (csv_writer_begin())
        csv_writer_end();
    pthread_mutex_unlock(&flush_lock);
    atomic_store(&running, true);
    start_thread();
}

void flusher_ensure_running(void)
{
    if (__builtin_expect(atomic_load_explicit(&running, memory_order_relaxed), 1))
        return;
    if (atomic_exchange(&running, true))
        return;
    start_thread();
}

void flusher_wake(void)
{
    pthread_mutex_lock(&wait_lock);
    wake_requested = true;
    pthread_cond_signal(&wait_cond);
    pthread_mutex_unlock(&wait_lock);
}

static struct leak_scan_caller this_thread(uintptr_t stack, const void *registers,
                                           size_t registers_size)
{
    return (struct leak_scan_caller){stack, registers, registers_size, os_thread_id(),
                                     (uintptr_t)__builtin_thread_pointer()};
}

void flusher_exit_pass(uintptr_t caller_stack, bool may_allocate)
{
    struct leak_pass pass = {.caller = this_thread(caller_stack, NULL, 0),
                             .at_exit = true,
                             .may_allocate = may_allocate,
                             .found = -1};
    run_leak_pass(&pass);
}

long flusher_check_leaks(uintptr_t caller_stack, const void *caller_registers,
                         size_t registers_size)
{
    struct leak_pass pass = {.caller = this_thread(caller_stack, caller_registers, registers_size),
                             .found = -1};
    return run_leak_pass(&pass);
}

static void name_stacks_here(void *then_forget_addresses)
{
    stack_json_render_all(config.symbols);
    if (*(bool *)then_forget_addresses)
        stack_json_forget_addresses();
}

void flusher_name_stacks(bool then_forget_addresses)
{
    pthread_mutex_lock(&flush_lock);
    pass_stack_run(name_stacks_here, &then_forget_addresses);
    pthread_mutex_unlock(&flush_lock);
}

void flusher_keep_file(uid_t user, gid_t group)
{
    pthread_mutex_lock(&flush_lock);
    if (!finished)
        csv_writer_keep(user, group);
    pthread_mutex_unlock(&flush_lock);
}

void flusher_settle_file_owner(void)
{
    pthread_mutex_lock(&flush_lock);
    if (!finished)
        csv_writer_settle_owner();
    pthread_mutex_unlock(&flush_lock);
}

void flusher_lock(void)
{
    pthread_mutex_lock(&flush_lock);
}

void flusher_unlock(void)
{
    pthread_mutex_unlock(&flush_lock);
}

void flusher_reset_in_child(void)
{
    pthread_mutex_init(&flush_lock, NULL);
    pthread_mutex_init(&wait_lock, NULL);
    init_wait_conds();
    wake_requested = false;
    handed = NULL;
    taking_passes = flusher_lost = false;
    /* A raw clone's copy may hold rows of a pass the parent's flusher was in. */
    event_log_clear(&rows);
    csv_writer_reset_in_child();
    atomic_store(&flusher_thread_id, 0);
    atomic_store(&running, false);
}
