/* stack_limit.c: a program that lowers its own stack limit to 64 KiB, as `ulimit -s 64`
 * would, then leaks, checks for leaks, and leaks again. Naming the stacks takes libdw 160
 * to 190 KiB of stack: run on the program's stack, both passes ended in a segmentation
 * fault. */
#include "common.h"

#include <malloctrace.h>
#include <stdlib.h>
#include <sys/resource.h>

static void *kept[2];

__attribute__((noinline)) static void leak(int which, size_t size)
{
    void *block = malloc(size);
    expect("leak", block, (long)size, "malloc", "leak");
    kept[which] = hide(block);
}

int main(void)
{
    struct rlimit limit = {64 << 10, 64 << 10};
    if (setrlimit(RLIMIT_STACK, &limit) != 0)
        return 98;
    leak(0, 71);
    say("FOUND %ld\n", malloc_trace_check_leaks());
    leak(1, 72);
    return 0;
}
