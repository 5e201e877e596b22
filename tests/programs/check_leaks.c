/* check_leaks.c: malloc_trace_check_leaks() while the program runs: it writes a row for what
 * is unreachable now, never twice, and spares what a local variable or a register holds. */
#include "common.h"

#include <malloctrace.h>
#include <stdlib.h>

__attribute__((noinline)) static char *allocate(size_t size)
{
    char *block = malloc(size);
    memset(block, 0, size);
    return block;
}

__attribute__((noinline)) static void leak_pair(void)
{
    char **outer = (char **)allocate(16);
    outer[0] = allocate(32);
    expect("leak", outer, 16, "malloc", "allocate");
    expect("indirect", outer[0], 32, "malloc", "allocate");
}

int main(void)
{
    char *held = allocate(40); /* a local of the running main: reachable */
    leak_pair();
    long first = malloc_trace_check_leaks();
    long second = malloc_trace_check_leaks(); /* the same blocks, no second row */
    say("FOUND %ld %ld\n", first, second);
    char *later = allocate(48);
    expect("leak", later, 48, "malloc", "allocate");
    say("# %p\n", hide(later));
    later = NULL;
    held[0] = 'h'; /* used after the checks: it had to stay reachable through them */
    say("HELD %c\n", held[0]);
    /* At exit the frames of main are gone: what only they held is a leak then. */
    expect("leak", held, 40, "malloc", "allocate");
    return 0;
}
