/* thread_stop.h: stops every other thread of the process for the leak scan and records
 * what the scan needs of each (its registers, stack pointer and thread pointer), then lets
 * them go. A real-time signal does it, whose handler copies the interrupted context and
 * waits; the signal is one the program leaves at its default (see the README). */
#ifndef MALLOC_TRACE_THREAD_STOP_H
#define MALLOC_TRACE_THREAD_STOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <ucontext.h>

#include "spin_lock.h"

enum stopped_thread_state {
    THREAD_SIGNALLED, /* the signal is on its way */
    THREAD_ANSWERING, /* in the handler, copying its registers */
    THREAD_STOPPED,   /* in the handler, registers copied: waits for thread_stop_resume */
    THREAD_UNREACHED, /* blocks the signal, or did not answer in time: no registers */
    THREAD_GONE,      /* exited before it could be signalled */
};

struct stopped_thread {
    pid_t tid;
    _Atomic int state;         /* enum stopped_thread_state */
    uintptr_t stack_pointer;   /* 0 when unknown */
    uintptr_t thread_pointer;  /* 0 when unknown */
    mcontext_t registers;      /* valid when THREAD_STOPPED */
};

struct thread_stop {
    struct stopped_thread *threads; /* from os_map */
    size_t count;
    size_t capacity;
};

/* Stops every thread but the caller and skip_tid (the flusher, which blocks every signal and
 * holds nothing of the program's); threads it cannot stop are listed as THREAD_UNREACHED
 * with their stack pointer when the kernel shows it, or when they wait for a lock that
 * held_throughout says the caller holds until it resumes them (see spin_lock_waiter_stack).
 * Uses no lock and no malloc: call it with the live table locked. */
void thread_stop_all(struct thread_stop *stop, pid_t skip_tid,
                     bool (*held_throughout)(const struct spin_lock *lock));

/* Lets every stopped thread run on, and waits until each has left the handler. */
void thread_stop_resume(struct thread_stop *stop);

#endif
