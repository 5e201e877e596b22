/* thread_stop.c: see thread_stop.h. */
#define _GNU_SOURCE
#include "thread_stop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "memory_map.h"
#include "os.h"
#include "proc_self.h"

/* Listing /proc/self/task again catches threads created while the first ones stopped. */
#define LISTING_ROUNDS 3
/* How long a thread may take to answer, in all (a loaded machine can be slow to schedule). */
#define ANSWER_TIMEOUT_MS 2000
/* How long a thread that blocks the signal may take to unblock it. */
#define BLOCKED_GRACE_MS 100

/* What the handler reads: the threads being stopped, and the generation it waits out. */
static struct stopped_thread *_Atomic published_threads;
static _Atomic size_t published_count;
static _Atomic unsigned stop_generation;
static _Atomic unsigned inside_handler;
static int stop_signal; /* 0 until chosen */

static long raw_syscall_keep_errno(long number, long a, long b, long c, long d)
{
    int saved = errno;
    long result = syscall(number, a, b, c, d);
    if (result < 0)
        result = -errno;
    errno = saved;
    return result;
}

static void futex_wait(_Atomic unsigned *word, unsigned value, long timeout_ns)
{
    struct timespec timeout = {0, timeout_ns};
    raw_syscall_keep_errno(SYS_futex, (long)word, FUTEX_WAIT_PRIVATE, (long)value,
                           timeout_ns ? (long)&timeout : 0);
}

static void futex_wake_all(_Atomic unsigned *word)
{
    raw_syscall_keep_errno(SYS_futex, (long)word, FUTEX_WAKE_PRIVATE, 0x7fffffff, 0);
}

static uintptr_t interrupted_stack_pointer(const ucontext_t *context)
{
#if defined(__x86_64__)
    return (uintptr_t)context->uc_mcontext.gregs[REG_RSP];
#elif defined(__i386__)
    return (uintptr_t)context->uc_mcontext.gregs[REG_ESP];
#elif defined(__aarch64__)
    return (uintptr_t)context->uc_mcontext.sp;
#else
#error "interrupted_stack_pointer: add this architecture's stack pointer register"
#endif
}

static void on_stop_signal(int signal_number, siginfo_t *info, void *context)
{
    (void)signal_number;
    int saved_errno = errno;
    /* Only our own tgkill stops a thread; a stray one of an earlier scan finds no slot. */
    if (info->si_code == SI_TKILL && info->si_pid == getpid()) {
        struct stopped_thread *threads = atomic_load(&published_threads);
        size_t count = atomic_load(&published_count);
        pid_t self = (pid_t)syscall(SYS_gettid);
        for (size_t i = 0; threads != NULL && i < count; i++) {
            struct stopped_thread *slot = &threads[i];
            int expected = THREAD_SIGNALLED;
            if (slot->tid != self
                || !atomic_compare_exchange_strong(&slot->state, &expected, THREAD_ANSWERING))
                continue;
            const ucontext_t *interrupted = context;
            slot->registers = interrupted->uc_mcontext;
            slot->stack_pointer = interrupted_stack_pointer(interrupted);
            slot->thread_pointer = (uintptr_t)__builtin_thread_pointer();
            unsigned generation = atomic_load(&stop_generation);
            atomic_fetch_add(&inside_handler, 1);
            atomic_store(&slot->state, THREAD_STOPPED);
            while (atomic_load(&stop_generation) == generation)
                futex_wait(&stop_generation, generation, 0);
            atomic_fetch_sub(&inside_handler, 1);
            futex_wake_all(&inside_handler);
            break;
        }
    }
    errno = saved_errno;
}

/* A real-time signal whose disposition is the default (or already ours), from the top:
 * programs take theirs from SIGRTMIN up. 0 when every one is taken. */
static int choose_signal(void)
{
    struct sigaction current;
    if (stop_signal != 0 && sigaction(stop_signal, NULL, &current) == 0
        && (current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_stop_signal)
        return stop_signal;
    for (int candidate = SIGRTMAX; candidate >= SIGRTMIN + 2; candidate--) {
        if (sigaction(candidate, NULL, &current) != 0)
            continue;
        if ((current.sa_flags & SA_SIGINFO) ? current.sa_sigaction != on_stop_signal
                                            : current.sa_handler != SIG_DFL)
            continue;
        struct sigaction ours;
        memset(&ours, 0, sizeof ours);
        ours.sa_sigaction = on_stop_signal;
        ours.sa_flags = SA_SIGINFO | SA_RESTART;
        sigfillset(&ours.sa_mask); /* a stopped thread runs no other handler meanwhile */
        /* Never put back to the default: a signal still pending in a thread that blocks it
         * would then kill the process. The handler ignores it outside a scan. */
        if (sigaction(candidate, &ours, NULL) == 0) {
            stop_signal = candidate;
            return candidate;
        }
    }
    return 0;
}

static bool listed(const struct thread_stop *stop, pid_t tid)
{
    for (size_t i = 0; i < stop->count; i++)
        if (stop->threads[i].tid == tid)
            return true;
    return false;
}

/* Calls visit for each thread id in /proc/self/task (raw getdents64: opendir allocates). */
static void for_each_task(void (*visit)(pid_t tid, void *context), void *context)
{
    int saved = errno;
    int fd = proc_self_open("/proc/self/task", O_DIRECTORY);
    if (fd < 0) {
        errno = saved;
        return;
    }
    char buffer[4096] __attribute__((aligned(8)));
    long got;
    while ((got = syscall(SYS_getdents64, fd, buffer, sizeof buffer)) > 0) {
        for (long offset = 0; offset < got;) {
            const struct dirent64 *entry = (const struct dirent64 *)(buffer + offset);
            offset += entry->d_reclen;
            pid_t tid = (pid_t)strtol(entry->d_name, NULL, 10);
            if (tid > 0)
                visit(tid, context);
        }
    }
    syscall(SYS_close, fd);
    errno = saved;
}

static void count_task(pid_t tid, void *context)
{
    (void)tid;
    ++*(size_t *)context;
}

struct signal_round {
    struct thread_stop *stop;
    pid_t self;
    pid_t skip;
    int signal;
    size_t added;
};

/* What /proc shows of a thread: whether it blocks the signal, whether it is a zombie (a
 * main thread that called pthread_exit while others run on). */
static void read_status(pid_t tid, int signal_number, bool *blocks, bool *zombie)
{
    char path[64], status[4096];
    *blocks = *zombie = false;
    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
    if (memory_map_read_small_file(path, status, sizeof status) < 0)
        return;
    const char *state = strstr(status, "\nState:");
    *zombie = state != NULL && state[strspn(state + 7, " \t") + 7] == 'Z';
    const char *line = strstr(status, "\nSigBlk:");
    if (line != NULL && signal_number > 0)
        *blocks = (strtoull(line + 8, NULL, 16) >> (signal_number - 1)) & 1u;
}

/* The system call a thread is blocked in (-1: none, -2: running or unknown) and its stack
 * pointer then (0 when unknown): "NR ARG1 ... ARG6 SP PC", "-1 SP PC" or "running". */
static long read_syscall(pid_t tid, uintptr_t *stack_pointer)
{
    char path[64], text[512];
    *stack_pointer = 0;
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    if (memory_map_read_small_file(path, text, sizeof text) <= 0 || text[0] == 'r')
        return -2;
    char *fields[9] = {NULL};
    size_t count = 0;
    for (char *cursor = text; count < 9 && *cursor;) {
        fields[count++] = cursor;
        cursor += strcspn(cursor, " \n");
        if (*cursor)
            *cursor++ = '\0';
    }
    if (count == 0)
        return -2;
    long number = strtol(fields[0], NULL, 10);
    if (count >= 3 && number == -1)
        *stack_pointer = (uintptr_t)strtoull(fields[1], NULL, 16);
    else if (count == 9)
        *stack_pointer = (uintptr_t)strtoull(fields[7], NULL, 16);
    return number;
}

static void signal_task(pid_t tid, void *context)
{
    struct signal_round *round = context;
    struct thread_stop *stop = round->stop;
    if (tid == round->self || tid == round->skip || listed(stop, tid))
        return;
    if (stop->count == stop->capacity)
        return; /* created since the count: left running, as if unreached */
    struct stopped_thread *slot = &stop->threads[stop->count];
    slot->tid = tid;
    slot->stack_pointer = slot->thread_pointer = 0;
    atomic_store(&slot->state, THREAD_SIGNALLED);
    atomic_store(&published_count, ++stop->count); /* before the signal: the handler looks */
    round->added++;
    bool blocks, zombie;
    read_status(tid, round->signal, &blocks, &zombie);
    uintptr_t stack_pointer;
    if (zombie) {
        atomic_store(&slot->state, THREAD_GONE);
        return;
    }
    /* A thread in sigwait(3), or one that waits in any system call with the signal blocked,
     * would take the signal as its own: a daemon's thread that reads every signal from a
     * signalfd printed "signal 64". Not sent: scanned as it is, from the stack pointer the
     * kernel shows. */
    long waiting_in = round->signal != 0 ? read_syscall(tid, &stack_pointer) : -2;
    if (round->signal == 0 || waiting_in == SYS_rt_sigtimedwait || (blocks && waiting_in >= 0)) {
        atomic_store(&slot->state, THREAD_UNREACHED);
        return;
    }
    /* Sent even to a thread that blocks it now (pthread_create's window, a handler on its
     * way out): it gets it when it unblocks, or is given up after a grace period. */
    long sent = raw_syscall_keep_errno(SYS_tgkill, getpid(), tid, round->signal, 0);
    if (sent != 0)
        atomic_store(&slot->state, sent == -ESRCH ? THREAD_GONE : THREAD_UNREACHED);
}

/* Waits until every thread has answered or the deadline passes (a thread that began to
 * answer always finishes: it is a few stores away). */
static uint64_t monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

/* Whether the thread has ended since it was listed (a thread blocks every signal on its way
 * out, in pthread_exit or when its function returns, so the signal never reached it). By
 * tgkill, which needs no descriptor: a program at its limit of open files cannot read /proc,
 * and a thread taken for gone would have its stack left out of the roots. */
static bool has_ended(pid_t tid)
{
    return raw_syscall_keep_errno(SYS_tgkill, getpid(), tid, 0, 0) == -ESRCH;
}

/* Threads still blocking the signal after the grace period keep it blocked: given up. Those
 * that ended meanwhile are gone. */
static void give_up_on_blocking(struct thread_stop *stop, int signal_number)
{
    for (size_t i = 0; i < stop->count; i++) {
        struct stopped_thread *thread = &stop->threads[i];
        bool blocks, zombie;
        if (atomic_load(&thread->state) != THREAD_SIGNALLED)
            continue;
        read_status(thread->tid, signal_number, &blocks, &zombie);
        bool gone = zombie || has_ended(thread->tid);
        int expected = THREAD_SIGNALLED;
        if (blocks || gone)
            atomic_compare_exchange_strong(&thread->state, &expected,
                                           gone ? THREAD_GONE : THREAD_UNREACHED);
    }
}

static void wait_for_answers(struct thread_stop *stop, uint64_t deadline_ms, int signal_number)
{
    uint64_t grace_ms = monotonic_ms() + BLOCKED_GRACE_MS;
    for (;;) {
        bool signalled = false, answering = false;
        for (size_t i = 0; i < stop->count; i++) {
            int state = atomic_load(&stop->threads[i].state);
            signalled |= state == THREAD_SIGNALLED;
            answering |= state == THREAD_ANSWERING;
        }
        if (!answering && (!signalled || monotonic_ms() >= deadline_ms))
            return;
        struct timespec pause = {0, 200000};
        nanosleep(&pause, NULL);
        if (signalled && monotonic_ms() >= grace_ms) {
            grace_ms = UINT64_MAX;
            give_up_on_blocking(stop, signal_number);
        }
    }
}

/* The stack pointers of the threads that did not answer: the one a waiter for a lock the
 * caller holds published, or the kernel's of the system call a thread waits in. One that
 * blocks every signal on its way out (see has_ended) often waits for a lock of the live
 * table, which the scan holds; it yields, then naps, and shows as running whenever it is
 * ready to run, which on a loaded machine was at nearly every look (9 scans in 14 of a test
 * beside busy loops said a thread could not be stopped, 0 in 14 with the published ones).
 * For the others, a few more rounds of looks 0.1 ms apart find them in a system call.
 * Threads that do run are looked at in rounds over all of them, for SYSCALL_ROUNDS_MS at
 * most: one thread after another, 20 looks each, 64 spinning threads took 5 s on a busy
 * machine (the scanner waits for a CPU at every look). */
#define SYSCALL_ROUNDS 20
#define SYSCALL_ROUND_PAUSE_NS 100000L
#define SYSCALL_ROUNDS_MS 20

static void find_stack_pointers(struct thread_stop *stop,
                                bool (*held_throughout)(const struct spin_lock *lock))
{
    uint64_t deadline_ms = monotonic_ms() + SYSCALL_ROUNDS_MS;
    for (unsigned round = 0; round < SYSCALL_ROUNDS && (round < 2 || monotonic_ms() < deadline_ms);
         round++) {
        if (round > 0) {
            struct timespec pause = {0, SYSCALL_ROUND_PAUSE_NS};
            nanosleep(&pause, NULL);
        }
        bool unknown = false;
        for (size_t i = 0; i < stop->count; i++) {
            struct stopped_thread *thread = &stop->threads[i];
            if (atomic_load(&thread->state) != THREAD_UNREACHED || thread->stack_pointer != 0)
                continue;
            const struct spin_lock *awaited = NULL;
            uintptr_t published = spin_lock_waiter_stack(thread->tid, &awaited);
            if (published != 0 && held_throughout(awaited)) {
                thread->stack_pointer = published;
                continue;
            }
            if (read_syscall(thread->tid, &thread->stack_pointer) == -2
                && has_ended(thread->tid))
                atomic_store(&thread->state, THREAD_GONE);
            else
                unknown |= thread->stack_pointer == 0;
        }
        if (!unknown)
            return;
    }
}

void thread_stop_all(struct thread_stop *stop, pid_t skip_tid,
                     bool (*held_throughout)(const struct spin_lock *lock))
{
    stop->count = 0;
    size_t tasks = 0;
    for_each_task(count_task, &tasks);
    size_t capacity = tasks * 2 + 64;
    if (capacity > stop->capacity) {
        /* The old array stays mapped: a late handler may still be reading it. */
        struct stopped_thread *grown = os_map(capacity * sizeof *grown);
        if (grown != NULL) {
            stop->threads = grown;
            stop->capacity = capacity;
        }
    }
    if (stop->threads == NULL) {
        os_message("no memory to stop the other threads: the leak scan runs beside them");
        return;
    }
    atomic_store(&published_count, 0);
    atomic_store(&published_threads, stop->threads);
    int signal_number = choose_signal();
    struct signal_round round = {stop, (pid_t)syscall(SYS_gettid), skip_tid, signal_number, 0};
    uint64_t deadline = monotonic_ms() + ANSWER_TIMEOUT_MS;
    for (int i = 0; i < LISTING_ROUNDS && signal_number != 0; i++) {
        round.added = 0;
        for_each_task(signal_task, &round);
        wait_for_answers(stop, deadline, signal_number);
        if (round.added == 0)
            break;
    }
    if (signal_number == 0) /* every real-time signal is the program's: list, stop none */
        for_each_task(signal_task, &round);
    for (size_t i = 0; i < stop->count; i++) {
        struct stopped_thread *thread = &stop->threads[i];
        int expected = THREAD_SIGNALLED;
        /* Too late to answer: the handler's answer is refused from here on. One that began
         * to answer is a few stores from the end. */
        atomic_compare_exchange_strong(&thread->state, &expected, THREAD_UNREACHED);
        while (atomic_load(&thread->state) == THREAD_ANSWERING)
            sched_yield();
    }
    find_stack_pointers(stop, held_throughout);
}

void thread_stop_resume(struct thread_stop *stop)
{
    atomic_store(&published_count, 0);
    atomic_fetch_add(&stop_generation, 1);
    futex_wake_all(&stop_generation);
    uint64_t deadline = monotonic_ms() + ANSWER_TIMEOUT_MS;
    unsigned inside;
    while ((inside = atomic_load(&inside_handler)) != 0 && monotonic_ms() < deadline)
        futex_wait(&inside_handler, inside, 1000000);
    (void)stop;
}
