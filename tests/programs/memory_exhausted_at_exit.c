/* memory_exhausted_at_exit.c: a program that lowers its limit on address space to 256 MiB,
 * then takes blocks of 1 KiB until malloc fails (thousands to a shard of the live table), keeps them all, and exits: the exit pass
 * has no memory for its leak scan, nor to name frames, nor to hold its rows. The rows must
 * all be written all the same (they were all lost, with a line that said they were
 * written). */
#include "common.h"

#include <stdlib.h>
#include <sys/resource.h>

static void *kept;

__attribute__((noinline)) static void *take(size_t size)
{
    return malloc(size);
}

int main(void)
{
    void *first = take(91);
    expect("leak", first, 91, "malloc", "*"); /* frames unnamed: see the test */
    kept = hide(first);
    struct rlimit limit = {(rlim_t)256 << 20, RLIM_INFINITY};
    if (setrlimit(RLIMIT_AS, &limit) != 0)
        return 98;
    void **chain = NULL;
    long blocks = 0;
    for (void **block; (block = take(1024)) != NULL; blocks++) {
        *block = chain;
        chain = block;
    }
    say("BLOCKS %ld\n", blocks);
    chain = hide(chain);
    return 0;
}
