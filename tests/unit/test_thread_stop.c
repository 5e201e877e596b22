/* test_thread_stop.c: stopping every other thread with a real-time signal (thread_stop.h).
 *
 * Workers of four kinds: readers blocked in read() on a pipe of their own, a spinner, and
 * one reader and one spinner that block every signal. Each reports its thread id, its
 * pthread_self() (the thread pointer on x86-64 glibc), its stack and the address of one of
 * its locals. The stack pointer of a thread blocked in a system call is read from
 * /proc/self/task/TID/syscall before each stop: a reader interrupted in read() must be
 * recorded with exactly that stack pointer (the kernel restarts the call from there), and a
 * reader that blocks the signal must get it from the same file.
 *
 * The core's constructor runs here too and starts the tracer's flusher thread, which blocks
 * every signal: it is found at the start (the only other thread then) and passed as skip_tid,
 * as the leak scan does, except in the rounds that check how it is listed without that. The
 * flush lock is held for the whole run, so that the flusher stays blocked in a system call. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "check.h"
#include "flusher.h"
#include "memory_map.h"
#include "spin_lock.h"
#include "thread_stop.h"

/* ---- helpers -------------------------------------------------------------------------- */

/* The held_throughout of the rounds that hold no lock a thread waits for. */
static bool no_lock_held(const struct spin_lock *lock)
{
    (void)lock;
    return false;
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

static void sleep_ms(unsigned ms)
{
    struct timespec pause = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
        ;
}

/* The thread ids of this process, at most max; returns how many. */
static size_t list_tasks(pid_t *out, size_t max)
{
    DIR *directory = opendir("/proc/self/task");
    size_t count = 0;
    if (directory == NULL)
        return 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        long tid = strtol(entry->d_name, NULL, 10);
        if (tid > 0 && count < max)
            out[count++] = (pid_t)tid;
    }
    closedir(directory);
    return count;
}

/* What /proc/self/task/TID/syscall says: the system call number (-1: none, -2: running)
 * and the stack pointer (0 when running). */
struct syscall_state {
    long number;
    uintptr_t stack_pointer;
};

static struct syscall_state read_syscall_state(pid_t tid)
{
    struct syscall_state state = {-2, 0};
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    if (memory_map_read_small_file(path, text, sizeof text) <= 0 || text[0] == 'r')
        return state;
    unsigned long fields[9];
    int count = 0;
    char *cursor = text;
    state.number = strtol(cursor, &cursor, 10);
    while (count < 8 && *cursor == ' ') {
        fields[count++] = strtoul(cursor + 1, &cursor, 16);
    }
    /* "NR A1 A2 A3 A4 A5 A6 SP PC", or "-1 SP PC" */
    if (state.number == -1 && count >= 1)
        state.stack_pointer = fields[0];
    else if (count == 8)
        state.stack_pointer = fields[6];
    return state;
}

/* Waits (at most 5 s) until tid is blocked in system call number; false on timeout. */
static bool wait_in_syscall(pid_t tid, long number)
{
    uint64_t deadline = now_ms() + 5000;
    while (read_syscall_state(tid).number != number) {
        if (now_ms() > deadline)
            return false;
        sleep_ms(1);
    }
    return true;
}

/* ---- workers -------------------------------------------------------------------------- */

enum worker_kind { READER, SPINNER, BLOCKING_READER, BLOCKING_SPINNER };

struct worker {
    enum worker_kind kind;
    pthread_t thread;
    int pipe[2];
    /* reported by the thread itself */
    _Atomic int ready;
    pid_t tid;
    uintptr_t self;                /* pthread_self() */
    uintptr_t stack_low, stack_high;
    uintptr_t local;               /* the address of one of its locals */
    _Atomic unsigned long progress; /* spinners: iterations */
    /* readers: what read() returned */
    long got;
    int read_errno;
    unsigned char byte;
};

#define WORKERS 6
static struct worker workers[WORKERS];
static atomic_bool spinners_stop;

static void report_self(struct worker *worker, volatile char *local)
{
    worker->tid = gettid_raw();
    worker->self = (uintptr_t)pthread_self();
    worker->local = (uintptr_t)local;
    pthread_attr_t attributes;
    void *stack_address = NULL;
    size_t stack_size = 0;
    if (pthread_getattr_np(pthread_self(), &attributes) == 0) {
        pthread_attr_getstack(&attributes, &stack_address, &stack_size);
        pthread_attr_destroy(&attributes);
    }
    worker->stack_low = (uintptr_t)stack_address;
    worker->stack_high = (uintptr_t)stack_address + stack_size;
}

static void *worker_main(void *argument)
{
    struct worker *worker = argument;
    volatile char local[16];
    local[0] = 0;
    if (worker->kind == BLOCKING_READER || worker->kind == BLOCKING_SPINNER) {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
    }
    report_self(worker, local);
    atomic_store(&worker->ready, 1);
    if (worker->kind == READER || worker->kind == BLOCKING_READER) {
        unsigned char byte = 0;
        errno = 0;
        worker->got = read(worker->pipe[0], &byte, 1);
        worker->read_errno = errno;
        worker->byte = byte;
    } else {
        while (!atomic_load_explicit(&spinners_stop, memory_order_relaxed)) {
            atomic_fetch_add_explicit(&worker->progress, 1, memory_order_relaxed);
            local[1] = local[0];
        }
    }
    return NULL;
}

static bool start_workers(void)
{
    static const enum worker_kind kinds[WORKERS] = {READER, READER, READER, SPINNER,
                                                    BLOCKING_READER, BLOCKING_SPINNER};
    for (unsigned i = 0; i < WORKERS; i++) {
        struct worker *worker = &workers[i];
        worker->kind = kinds[i];
        if (pipe(worker->pipe) != 0
            || pthread_create(&worker->thread, NULL, worker_main, worker) != 0)
            return false;
    }
    for (unsigned i = 0; i < WORKERS; i++) {
        struct worker *worker = &workers[i];
        while (!atomic_load(&worker->ready))
            sched_yield();
        bool reader = worker->kind == READER || worker->kind == BLOCKING_READER;
        if (reader && !wait_in_syscall(worker->tid, SYS_read))
            return false;
        while (!reader && atomic_load(&worker->progress) == 0)
            sched_yield();
    }
    return true;
}

/* The entry of tid, or NULL when it is listed not once. */
static const struct stopped_thread *listed(const struct thread_stop *stop, pid_t tid)
{
    const struct stopped_thread *found = NULL;
    unsigned times = 0;
    for (size_t i = 0; i < stop->count; i++)
        if (stop->threads[i].tid == tid) {
            found = &stop->threads[i];
            times++;
        }
    return times == 1 ? found : NULL;
}

static unsigned times_listed(const struct thread_stop *stop, pid_t tid)
{
    unsigned times = 0;
    for (size_t i = 0; i < stop->count; i++)
        times += stop->threads[i].tid == tid;
    return times;
}

/* ---- signals -------------------------------------------------------------------------- */

static pid_t flusher_tid;
static _Atomic unsigned program_handler_calls;

static void program_handler(int signal_number)
{
    (void)signal_number;
    atomic_fetch_add(&program_handler_calls, 1);
}

static void install_program_handler(int signal_number)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = program_handler;
    sigemptyset(&action.sa_mask);
    sigaction(signal_number, &action, NULL);
}

/* The real-time signals whose handler is a SA_SIGINFO one: the tracer's (the program here
 * installs plain handlers only). Returns how many; *chosen is the last one found. */
static unsigned siginfo_handlers(int *chosen, void (**handler)(int, siginfo_t *, void *))
{
    unsigned count = 0;
    for (int candidate = SIGRTMIN; candidate <= SIGRTMAX; candidate++) {
        struct sigaction current;
        if (sigaction(candidate, NULL, &current) != 0)
            continue;
        if (current.sa_flags & SA_SIGINFO) {
            count++;
            *chosen = candidate;
            *handler = current.sa_sigaction;
        }
    }
    return count;
}

static bool has_program_handler(int signal_number)
{
    struct sigaction current;
    return sigaction(signal_number, NULL, &current) == 0 && !(current.sa_flags & SA_SIGINFO)
           && current.sa_handler == program_handler;
}

/* ---- one stop and resume -------------------------------------------------------------- */

/* Stops every thread (but skip), checks each one exactly, resumes, checks they go on. */
static void stop_round(struct thread_stop *stop, pid_t skip, int line)
{
    /* The stack pointer each blocked reader shows now: a stopped one keeps it. */
    uintptr_t expected_sp[WORKERS] = {0};
    for (unsigned i = 0; i < WORKERS; i++) {
        struct worker *worker = &workers[i];
        if (worker->kind == READER || worker->kind == BLOCKING_READER) {
            check_true(wait_in_syscall(worker->tid, SYS_read), "reader in read()", __FILE__,
                       line);
            expected_sp[i] = read_syscall_state(worker->tid).stack_pointer;
        }
    }
    pid_t tasks[64];
    size_t task_count = list_tasks(tasks, 64);

    uint64_t started = now_ms();
    thread_stop_all(stop, skip, no_lock_held);
    uint64_t stop_ms = now_ms() - started;
    /* No thread made it wait for the answer timeout: the blocking ones were seen as such. */
    check_u64(stop_ms, 1000, CHECK_LT, "thread_stop_all ms", "1000", __FILE__, line);

    /* Every thread but the caller and skip, each once. */
    size_t expected_count = 0;
    for (size_t i = 0; i < task_count; i++) {
        if (tasks[i] == gettid_raw() || tasks[i] == skip)
            continue;
        expected_count++;
        check_u64(times_listed(stop, tasks[i]), 1, CHECK_EQ, "times a thread is listed", "1",
                  __FILE__, line);
    }
    check_u64(stop->count, expected_count, CHECK_EQ, "stop->count", "threads", __FILE__, line);
    check_u64(times_listed(stop, gettid_raw()), 0, CHECK_EQ, "the caller listed", "never",
              __FILE__, line);
    if (skip != 0)
        check_u64(times_listed(stop, skip), 0, CHECK_EQ, "skip_tid listed", "never", __FILE__,
                  line);

    struct memory_map map = {0};
    check_true(memory_map_read(&map), "memory_map_read", __FILE__, line);
    unsigned long progress_at_stop[WORKERS];
    for (unsigned i = 0; i < WORKERS; i++)
        progress_at_stop[i] = atomic_load(&workers[i].progress);

    for (unsigned i = 0; i < WORKERS; i++) {
        struct worker *worker = &workers[i];
        const struct stopped_thread *thread = listed(stop, worker->tid);
        if (worker->tid == skip) {
            /* Not stopped: still in its read(). */
            check_true(read_syscall_state(worker->tid).number == SYS_read,
                       "the skipped reader still in read()", __FILE__, line);
            continue;
        }
        if (!check_true(thread != NULL, "worker listed once", __FILE__, line))
            continue;
        int state = atomic_load(&thread->state);
        switch (worker->kind) {
        case READER:
        case SPINNER:
            check_u64((uint64_t)state, THREAD_STOPPED, CHECK_EQ, "state", "THREAD_STOPPED",
                      __FILE__, line);
            check_u64(thread->thread_pointer, worker->self, CHECK_EQ, "thread_pointer",
                      "pthread_self()", __FILE__, line);
            check_u64((uint64_t)thread->registers.gregs[REG_RSP], thread->stack_pointer,
                      CHECK_EQ, "registers RSP", "stack_pointer", __FILE__, line);
            break;
        case BLOCKING_READER:
        case BLOCKING_SPINNER:
            check_u64((uint64_t)state, THREAD_UNREACHED, CHECK_EQ, "state", "THREAD_UNREACHED",
                      __FILE__, line);
            check_u64(thread->thread_pointer, 0, CHECK_EQ, "thread_pointer", "unknown",
                      __FILE__, line);
            break;
        }
        if (worker->kind == READER || worker->kind == BLOCKING_READER) {
            /* Exactly the stack pointer of its read(). */
            check_u64(thread->stack_pointer, expected_sp[i], CHECK_EQ, "stack_pointer",
                      "the /proc stack pointer in read()", __FILE__, line);
        }
        if (worker->kind == BLOCKING_SPINNER) {
            /* It runs: the kernel shows no stack pointer. */
            check_u64(thread->stack_pointer, 0, CHECK_EQ, "stack_pointer", "unknown (running)",
                      __FILE__, line);
            continue;
        }
        /* Inside the thread's stack, below (or in the red zone under) its local. */
        uintptr_t sp = thread->stack_pointer;
        check_u64(sp, worker->stack_low, CHECK_GE, "stack_pointer", "stack low", __FILE__,
                  line);
        check_u64(sp, worker->stack_high, CHECK_LT, "stack_pointer", "stack high", __FILE__,
                  line);
        check_u64(sp, worker->local + 128, CHECK_LE, "stack_pointer", "local + red zone",
                  __FILE__, line);
        check_u64(sp, worker->local - 65536, CHECK_GE, "stack_pointer", "local - 64 KiB",
                  __FILE__, line);
        const struct mapping *mapping = memory_map_find(&map, sp);
        if (check_true(mapping != NULL, "stack pointer mapped", __FILE__, line)) {
            check_true(mapping == memory_map_find(&map, worker->local),
                       "stack pointer in the local's mapping", __FILE__, line);
            check_true(mapping->readable && mapping->writable, "stack mapping rw", __FILE__,
                       line);
        }
    }
    /* The tracer's flusher, when not skipped: it blocks every signal. */
    if (skip != flusher_tid) {
        const struct stopped_thread *flusher = listed(stop, flusher_tid);
        if (check_true(flusher != NULL, "flusher listed once", __FILE__, line)) {
            check_u64((uint64_t)atomic_load(&flusher->state), THREAD_UNREACHED, CHECK_EQ,
                      "flusher state", "THREAD_UNREACHED", __FILE__, line);
            const struct mapping *mapping = memory_map_find(&map, flusher->stack_pointer);
            check_true(flusher->stack_pointer == 0 || (mapping != NULL && mapping->writable),
                       "flusher stack pointer unknown or in writable memory", __FILE__, line);
        }
    }
    memory_map_release(&map);

    /* Stopped: the spinner makes no progress; the one that blocks the signal does. */
    sleep_ms(20);
    for (unsigned i = 0; i < WORKERS; i++) {
        if (workers[i].kind == SPINNER)
            check_u64(atomic_load(&workers[i].progress), progress_at_stop[i], CHECK_EQ,
                      "stopped spinner's progress", "at the stop", __FILE__, line);
    }
    /* (Waiting for it to be scheduled: another program may keep both cores busy.) */
    for (unsigned i = 0; i < WORKERS; i++) {
        if (workers[i].kind != BLOCKING_SPINNER)
            continue;
        unsigned long before = atomic_load(&workers[i].progress);
        uint64_t deadline = now_ms() + 5000;
        while (atomic_load(&workers[i].progress) == before && now_ms() < deadline)
            sleep_ms(1);
        check_u64(atomic_load(&workers[i].progress), before, CHECK_NE,
                  "unreached spinner runs on", "before", __FILE__, line);
    }

    started = now_ms();
    thread_stop_resume(stop);
    check_u64(now_ms() - started, 1000, CHECK_LT, "thread_stop_resume ms", "1000", __FILE__,
              line);

    /* Resumed: the spinner goes on, the readers are back in read(). */
    for (unsigned i = 0; i < WORKERS; i++) {
        struct worker *worker = &workers[i];
        if (worker->kind == SPINNER) {
            uint64_t deadline = now_ms() + 5000;
            while (atomic_load(&worker->progress) == progress_at_stop[i] && now_ms() < deadline)
                sched_yield();
            check_u64(atomic_load(&worker->progress), progress_at_stop[i], CHECK_NE,
                      "resumed spinner's progress", "at the stop", __FILE__, line);
        }
        if (worker->kind == READER || worker->kind == BLOCKING_READER)
            check_true(wait_in_syscall(worker->tid, SYS_read), "reader back in read()",
                       __FILE__, line);
    }
}

/* ---- tests ---------------------------------------------------------------------------- */

static struct thread_stop stop; /* reused by every round, as the leak scan does */
static int first_choice;

static void test_alone(void)
{
    /* Only the flusher besides us, skipped: nothing listed. */
    thread_stop_all(&stop, flusher_tid, no_lock_held);
    CHECK_EQ_U64(stop.count, 0);
    CHECK(stop.threads != NULL);
    thread_stop_resume(&stop);
    /* Not skipped: listed, unreached. */
    thread_stop_all(&stop, 0, no_lock_held);
    if (CHECK_EQ_U64(stop.count, 1)) {
        CHECK_EQ_I64(stop.threads[0].tid, flusher_tid);
        CHECK_EQ_U64((uint64_t)atomic_load(&stop.threads[0].state), THREAD_UNREACHED);
    }
    thread_stop_resume(&stop);
    CHECK_EQ_U64(atomic_load(&program_handler_calls), 0);
}

static void test_signal_chosen_below_program_handler(void)
{
    /* SIGRTMAX is the program's (installed in main before any stop): the next one down. */
    int chosen = 0;
    void (*handler)(int, siginfo_t *, void *) = NULL;
    CHECK_EQ_U64(siginfo_handlers(&chosen, &handler), 1);
    CHECK_EQ_I64(chosen, SIGRTMAX - 1);
    CHECK(handler != NULL);
    CHECK_TRUE(has_program_handler(SIGRTMAX));
    first_choice = chosen;
}

static void test_rounds(void)
{
    /* Several stops in a row; one skips a reader, one skips nobody (the flusher listed). */
    static const int skips[] = {-1, -1, 2, -1, -2, -1, -1};
    int chosen = 0;
    void (*first_handler)(int, siginfo_t *, void *) = NULL;
    siginfo_handlers(&chosen, &first_handler);
    for (unsigned round = 0; round < sizeof skips / sizeof *skips; round++) {
        pid_t skip = skips[round] == -1   ? flusher_tid
                     : skips[round] == -2 ? 0
                                          : workers[skips[round]].tid;
        stop_round(&stop, skip, __LINE__);
        /* The same signal every time, the program's SIGRTMAX untouched. */
        void (*handler)(int, siginfo_t *, void *) = NULL;
        CHECK_EQ_U64(siginfo_handlers(&chosen, &handler), 1);
        CHECK_EQ_I64(chosen, first_choice);
        CHECK_EQ_PTR(handler, first_handler);
        CHECK_TRUE(has_program_handler(SIGRTMAX));
    }
    CHECK_EQ_U64(atomic_load(&program_handler_calls), 0);
}

static void test_program_takes_the_signal_later(void)
{
    /* The program installs its own handler on the signal the tracer chose, and ignores the
     * next one: the tracer must take a third one, and leave both of the program's alone. */
    install_program_handler(first_choice);
    signal(first_choice - 1, SIG_IGN);
    stop_round(&stop, flusher_tid, __LINE__);
    int chosen = 0;
    void (*handler)(int, siginfo_t *, void *) = NULL;
    CHECK_EQ_U64(siginfo_handlers(&chosen, &handler), 1);
    CHECK_EQ_I64(chosen, first_choice - 2);
    CHECK_TRUE(has_program_handler(SIGRTMAX));
    CHECK_TRUE(has_program_handler(first_choice));
    struct sigaction ignored;
    if (CHECK_EQ_I64(sigaction(first_choice - 1, NULL, &ignored), 0))
        CHECK_EQ_PTR(ignored.sa_handler, SIG_IGN);
    /* And it keeps that one. */
    stop_round(&stop, flusher_tid, __LINE__);
    CHECK_EQ_U64(siginfo_handlers(&chosen, &handler), 1);
    CHECK_EQ_I64(chosen, first_choice - 2);
    CHECK_EQ_U64(atomic_load(&program_handler_calls), 0);
}

static void test_workers_finish(void)
{
    /* The readers get their byte from the same read() they were stopped in (restarted). */
    for (unsigned i = 0; i < WORKERS; i++) {
        struct worker *worker = &workers[i];
        if (worker->kind == READER || worker->kind == BLOCKING_READER) {
            unsigned char byte = (unsigned char)(0x40 + i);
            CHECK_EQ_I64(write(worker->pipe[1], &byte, 1), 1);
        }
    }
    atomic_store(&spinners_stop, true);
    for (unsigned i = 0; i < WORKERS; i++) {
        struct worker *worker = &workers[i];
        CHECK_EQ_I64(pthread_join(worker->thread, NULL), 0);
        if (worker->kind == READER || worker->kind == BLOCKING_READER) {
            CHECK_EQ_I64(worker->got, 1);
            CHECK_EQ_I64(worker->read_errno, 0); /* never EINTR */
            CHECK_EQ_U64(worker->byte, 0x40 + i);
        }
        close(worker->pipe[0]);
        close(worker->pipe[1]);
    }
    /* Gone: only the flusher is left to list. */
    thread_stop_all(&stop, flusher_tid, no_lock_held);
    CHECK_EQ_U64(stop.count, 0);
    thread_stop_resume(&stop);
    CHECK_EQ_U64(atomic_load(&program_handler_calls), 0);
}

/* A thread that blocks every signal (as one on its way out) and waits for a lock the caller
 * holds: unreachable, and often shown as running in /proc (between its naps, or waiting for
 * a CPU), so its stack pointer is the one it published as it began to wait. */
static struct spin_lock held_lock;
static _Atomic uintptr_t waiter_local;
static _Atomic pid_t waiter_tid;

static bool held_lock_only(const struct spin_lock *lock)
{
    return lock == &held_lock;
}

static void *wait_for_held_lock(void *unused)
{
    sigset_t every;
    sigfillset(&every);
    pthread_sigmask(SIG_BLOCK, &every, NULL);
    volatile int local = 0;
    atomic_store(&waiter_local, (uintptr_t)&local);
    atomic_store(&waiter_tid, gettid_raw());
    spin_lock_take(&held_lock);
    spin_lock_release(&held_lock);
    return unused;
}

static void test_waiter_on_a_held_lock(void)
{
    spin_lock_take(&held_lock);
    pthread_t thread;
    if (!CHECK_EQ_I64(pthread_create(&thread, NULL, wait_for_held_lock, NULL), 0)) {
        spin_lock_release(&held_lock);
        return;
    }
    const struct spin_lock *awaited = NULL;
    uintptr_t published = 0;
    for (unsigned i = 0; i < 5000 && published == 0; i++) {
        pid_t tid = atomic_load(&waiter_tid);
        published = tid != 0 ? spin_lock_waiter_stack(tid, &awaited) : 0;
        if (published == 0)
            sleep_ms(1);
    }
    CHECK(awaited == &held_lock);
    /* Below the frame that called spin_lock_take, within a page or two of it. */
    CHECK(published < atomic_load(&waiter_local));
    CHECK(published > atomic_load(&waiter_local) - 8192);
    thread_stop_all(&stop, flusher_tid, held_lock_only);
    if (CHECK_EQ_U64(stop.count, 1)) {
        CHECK_EQ_I64(stop.threads[0].tid, atomic_load(&waiter_tid));
        CHECK_EQ_U64((uint64_t)atomic_load(&stop.threads[0].state), THREAD_UNREACHED);
        CHECK_EQ_U64(stop.threads[0].stack_pointer, published);
    }
    thread_stop_resume(&stop);
    spin_lock_release(&held_lock);
    CHECK_EQ_I64(pthread_join(thread, NULL), 0);
    /* The entry went with the wait. */
    CHECK_EQ_U64(spin_lock_waiter_stack(atomic_load(&waiter_tid), &awaited), 0);
}

int main(void)
{
    alarm(60);
    flusher_lock();
    /* The flusher thread is the only other one at the start. */
    pid_t tasks[8];
    size_t count = list_tasks(tasks, 8);
    CHECK_EQ_U64(count, 2);
    for (size_t i = 0; i < count; i++)
        if (tasks[i] != gettid_raw())
            flusher_tid = tasks[i];
    CHECK(flusher_tid != 0);
    install_program_handler(SIGRTMAX);

    RUN_TEST(test_alone);
    RUN_TEST(test_signal_chosen_below_program_handler);
    RUN_TEST(test_waiter_on_a_held_lock);
    if (!CHECK_TRUE(start_workers())) {
        flusher_unlock();
        return check_exit_status();
    }
    RUN_TEST(test_rounds);
    RUN_TEST(test_program_takes_the_signal_later);
    RUN_TEST(test_workers_finish);
    flusher_unlock();
    return check_exit_status();
}
