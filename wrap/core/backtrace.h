/* backtrace.h: the return addresses of the program's frames above an intercepted call. */
#ifndef MALLOC_TRACE_BACKTRACE_H
#define MALLOC_TRACE_BACKTRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "settings.h"

/* Frames of the tracer between the unwinder and the program: the unwinder's entry, the
 * capture function, the core hook and the front-end entry point. Each is noinline and makes
 * no tail call, so the count is fixed; the integration tests check frame 1 in every form. */
#define BACKTRACE_TRACER_FRAMES 4u
#define BACKTRACE_MAX_FRAMES (256u + BACKTRACE_TRACER_FRAMES)

/* Picks the unwinder, for captures of at most max frames, and warms it up (it may allocate:
 * call under the guard). */
void backtrace_init(enum unwinder unwinder, uint32_t max);

/* The stack pointer of the program's frame that called exit(3), as it was at the call (the
 * canonical frame address of exit's frame), or 0 when exit is not on the calling thread's
 * stack, a frame on the way has no rule in the unwind tables, or the program is static. May
 * allocate (the tables of modules no capture passed yet): call under the guard. */
uintptr_t backtrace_exit_caller_stack(void);

/* dlclose: a module's addresses may now be another's. */
void backtrace_forget_unloaded(void);

/* fork: before, waits until no other thread is inside the unwinder (and keeps new captures
 * from starting); after, lets them go, in the parent and in the child. */
void backtrace_before_fork(void);
void backtrace_after_fork(bool in_child);

/* What a capture hands its caller to keep with the stack it took (one of the call site's last
 * few stacks, in the calling thread's own memo). */
struct backtrace_kept {
    /* For the stack's id: it still holds what was stored when a later capture gives exactly
     * these frames again (as the unwind tables tell at no cost), and is 0 otherwise. */
    uint32_t stack_id;
    /* Never read or written here: what the caller keeps in it about the stack is a hint. */
    uint32_t hint;
};

/* Stores the return addresses of the frames above the intercepted function, innermost first
 * (the caller of the intercepted function first), at most max of them, at
 * (*frames)[BACKTRACE_TRACER_FRAMES] on (before them, the tracer's own frames), and returns
 * how many. *frames is set to the calling thread's own buffer of BACKTRACE_MAX_FRAMES, which
 * holds them until its next capture: not the stack, where 2 KiB of frames overflowed threads
 * with little of it left. *kept is set to the words kept with the stack. Must be called
 * directly by a core hook that a front-end entry point called directly. */
uint32_t backtrace_capture(uint32_t max, void ***frames, struct backtrace_kept **kept);

/* Defined by backtrace_libunwind.c where libunwind is linked (the preload library, and the
 * static-link member of the archive). Weak: the dynamic wrap form has no -lunwind (it would
 * break static C++ links, whose libunwind.a and libgcc_eh.a both define _Unwind_Resume, and
 * libunwind.a is not position independent), so it loads libunwind.so.8 at start instead, and
 * falls back to libgcc's unwinder where that library is missing. */
extern int malloc_trace_libunwind_backtrace(void **frames, int max) __attribute__((weak));
extern void malloc_trace_libunwind_init(void) __attribute__((weak));

#endif
