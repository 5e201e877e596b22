/* backtrace.c: see backtrace.h. */
#include "backtrace.h"

#include <unwind.h>

struct libgcc_walk {
    void **frames;
    uint32_t count;
    uint32_t max;
};

static _Unwind_Reason_Code libgcc_step(struct _Unwind_Context *context, void *argument)
{
    struct libgcc_walk *walk = argument;
    if (walk->count >= walk->max)
        return _URC_END_OF_STACK;
    /* An address as libgcc gives it. */
    walk->frames[walk->count++] = (void *)_Unwind_GetIP(context); // NOLINT(performance-no-int-to-ptr)
    return _URC_NO_REASON;
}

/* The first frame _Unwind_Backtrace reports is this function's own. */
__attribute__((noinline)) static uint32_t libgcc_backtrace(void **frames, uint32_t max)
{
    struct libgcc_walk walk = {frames, 0, max};
    _Unwind_Backtrace(libgcc_step, &walk);
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame must stay on the stack */
    return walk.count;
}

void backtrace_init(void)
{
    if (malloc_trace_libunwind_init)
        malloc_trace_libunwind_init();
    void *warm_up[8];
    backtrace_capture(warm_up, 8);
}

__attribute__((noinline)) uint32_t backtrace_capture(void **frames, uint32_t max)
{
    void *all[BACKTRACE_MAX_FRAMES];
    uint32_t wanted = max + BACKTRACE_TRACER_FRAMES;
    if (wanted > BACKTRACE_MAX_FRAMES)
        wanted = BACKTRACE_MAX_FRAMES;
    int got = malloc_trace_libunwind_backtrace
                  ? malloc_trace_libunwind_backtrace(all, (int)wanted)
                  : (int)libgcc_backtrace(all, wanted);
    uint32_t count = 0;
    for (int i = (int)BACKTRACE_TRACER_FRAMES; i < got && count < max; i++) {
        /* libgcc reports the end of the stack (the caller of _start) as address 0. */
        if ((uintptr_t)all[i] < 4096)
            break;
        frames[count++] = all[i];
    }
    return count;
}
