/* address_limit.c: a program that lowers its own limit on address space to 512 MiB once the
 * tracer has reserved its tables (8 GiB of address space, made at the first allocations),
 * with setrlimit or with prlimit (argv[1]), then maps 64 MiB and leaks. The tracer gives
 * back what the limit leaves no room for: before, the program's 64 MiB were refused, and at
 * exit no memory could be had for a single row. */
#include "common.h"

#include <stdlib.h>
#include <sys/resource.h>

static void *kept[2];

__attribute__((noinline)) static void leak(int which, size_t size)
{
    void *block = malloc(size);
    expect("leak", block, (long)size, "malloc", "leak");
    kept[which] = hide(block);
}

int main(int argc, char **argv)
{
    leak(0, 81);
    struct rlimit limit = {(rlim_t)512 << 20, RLIM_INFINITY};
    int set = argc > 1 && strcmp(argv[1], "prlimit") == 0 ? prlimit(getpid(), RLIMIT_AS, &limit, NULL)
                                                          : setrlimit(RLIMIT_AS, &limit);
    if (set != 0)
        return 98;
    size_t big_size = (size_t)64 << 20;
    char *big = malloc(big_size);
    if (big == NULL)
        say("NO MEMORY FOR 64 MiB\n");
    else
        memset(big, 1, big_size);
    free(big);
    leak(1, 82);
    return 0;
}
