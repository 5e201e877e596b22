/* api.c: the runtime API of malloctrace.h. Built with the tracer or without it (then every
 * API address is NULL and the program still runs). */
#include "common.h"

#include <malloctrace.h>
#include <stdlib.h>

__attribute__((noinline)) static void *allocate(size_t size)
{
    return malloc(size);
}

int main(void)
{
    int traced = malloc_trace_ignore && malloc_trace_disable && malloc_trace_enable;
    say("TRACED %d\n", traced);
    void *ignored = allocate(10);
    if (malloc_trace_ignore)
        malloc_trace_ignore(ignored);
    if (malloc_trace_disable)
        malloc_trace_disable();
    void *while_disabled = allocate(20);
    if (malloc_trace_disable)
        malloc_trace_disable(); /* nested */
    void *while_disabled_twice = allocate(30);
    if (malloc_trace_enable)
        malloc_trace_enable();
    void *still_disabled = allocate(40);
    if (malloc_trace_enable)
        malloc_trace_enable();
    void *reported = allocate(50);
    expect("leak", reported, 50, "malloc", "allocate");
    /* Ignored blocks stay known: freeing one is no orphan free. */
    void *ignored_then_freed = allocate(60);
    if (malloc_trace_ignore)
        malloc_trace_ignore(ignored_then_freed);
    free(ignored_then_freed);
    free(while_disabled);
    /* The blocks the tracer must not report (test_sanitizers.py reads this line). */
    say("IGNORED %p %p %p\n", ignored, while_disabled_twice, still_disabled);
    say("# %p\n", reported);
    return 0;
}
