/* frees_after_blocks_were_lost.c: the program lowers its limit on address space, fills it
 * with blocks of 1 MiB, then allocates small blocks and frees every other one. The tracer's
 * tables cannot grow for the last blocks: their frees are of addresses it does not hold, but
 * no orphan frees (they were written as such, thousands of them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static void *volatile kept;

int main(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_AS, &limit) != 0)
        return 3;
    limit.rlim_cur = (rlim_t)200 << 20;
    if (setrlimit(RLIMIT_AS, &limit) != 0)
        return 4;
    for (;;) {
        void *block = malloc(1 << 20);
        if (block == NULL)
            break;
        memset(block, 1, 4096);
        kept = block;
    }
    int freed = 0;
    for (int i = 0; i < 10000; i++) {
        void *block = malloc(100);
        if (block == NULL)
            break;
        if (i % 2 == 1) {
            free(block);
            freed++;
        }
    }
    printf("FREED %d\n", freed);
    return 0;
}
