/* exit_from_main.c: main keeps a block in a live local and ends the process with exit(3)
 * from a function it called: main's frame is still live, so the block is reachable (in a
 * static program the exiting thread's stack is no root: there it is a leak). */
#include "common.h"

#include <stdlib.h>

__attribute__((noinline)) static char *allocate(size_t size)
{
    char *block = malloc(size);
    memset(block, 0, size);
    return block;
}

__attribute__((noinline)) static void finish(char *state)
{
    const char *form = getenv("EVENTS_FORM");
    expect(form && strcmp(form, "static") == 0 ? "leak" : "reachable", state, 64, "malloc",
           "allocate");
    exit(0);
}

int main(void)
{
    char *volatile state = allocate(64);
    finish(state);
}
