/* flusher.c: see flusher.h. */
#define _GNU_SOURCE
#include "flusher.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <stdatomic.h>
#include <time.h>

#include "csv_writer.h"
#include "event_log.h"
#include "live_table.h"
#include "os.h"
#include "stack_json.h"
#include "symbolizer.h"
#include "tracer.h"

static pthread_mutex_t flush_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wait_cond;
static bool wake_requested;
static bool finished;           /* under flush_lock: no pass after the exit pass */
static atomic_bool running;     /* this process has a flusher thread */
static struct settings config;  /* a copy: settings are read once, at start */
static struct event_log rows;   /* reused between passes, under flush_lock */

static const char *row_function(enum event_kind kind)
{
    switch (kind) {
    case EVENT_MALLOC:
        return "malloc";
    case EVENT_FREE:
        return "free";
    case EVENT_LEAK:
        return "leak";
    }
    return "?";
}

/* Called with flush_lock held and the guard set. */
static void write_pass(enum live_table_pass pass)
{
    rows.count = 0;
    live_table_collect(pass, os_now_ms(), (uint64_t)config.period_seconds * 1000u, &rows);
    if (!csv_writer_begin())
        return;
    symbolizer_new_batch();
    for (size_t i = 0; i < rows.count; i++) {
        const struct trace_event *row = &rows.events[i];
        csv_writer_row(row_function((enum event_kind)row->kind), row->thread_id, row->address,
                       row->size, row->time_ms,
                       stack_json_frame0((enum entry_point)row->entry_point),
                       stack_json_frames(row->stack_id, config.symbols));
    }
    csv_writer_end();
}

static void *flusher_main(void *unused)
{
    (void)unused;
    malloc_trace_guard += MALLOC_TRACE_GUARD_INTERNAL; /* for the thread's whole life */
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    for (;;) {
        deadline.tv_sec += config.period_seconds;
        pthread_mutex_lock(&wait_lock);
        while (!wake_requested) {
            if (pthread_cond_timedwait(&wait_cond, &wait_lock, &deadline) == ETIMEDOUT)
                break;
        }
        if (wake_requested)
            clock_gettime(CLOCK_MONOTONIC, &deadline); /* the next period starts now */
        wake_requested = false;
        pthread_mutex_unlock(&wait_lock);

        pthread_mutex_lock(&flush_lock);
        bool stop = finished;
        if (!stop)
            write_pass(PASS_PERIODIC);
        pthread_mutex_unlock(&flush_lock);
        if (stop)
            return NULL;
    }
}

static void init_wait_cond(void)
{
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&wait_cond, &attributes);
    pthread_condattr_destroy(&attributes);
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
    int error = pthread_create(&thread, NULL, flusher_main, NULL);
    malloc_trace_guard -= MALLOC_TRACE_GUARD_INTERNAL;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (error != 0) {
        os_message("cannot start the flusher thread (%s): only the exit rows are written",
                   strerror(error));
        return;
    }
    pthread_detach(thread);
}

void flusher_start(const struct settings *settings)
{
    config = *settings;
    csv_writer_configure(config.out_file_path, config.out_file_max_size);
    init_wait_cond();
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

void flusher_exit_pass(void)
{
    pthread_mutex_lock(&flush_lock);
    if (!finished) {
        finished = true;
        write_pass(PASS_EXIT);
    }
    pthread_mutex_unlock(&flush_lock);
}

void flusher_name_stacks(bool then_forget_addresses)
{
    pthread_mutex_lock(&flush_lock);
    stack_json_render_all(config.symbols);
    if (then_forget_addresses)
        stack_json_forget_addresses();
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
    init_wait_cond();
    wake_requested = false;
    csv_writer_reset_in_child();
    atomic_store(&running, false);
}
