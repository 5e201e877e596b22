/* flush.c: `flush STACKS_LOG2 BLOCKS_PER_STACK`: leaks BLOCKS_PER_STACK blocks from each of
 * 2^STACKS_LOG2 distinct call stacks (a walk of that many levels down one of two call
 * sites each), then prints the time main returns, in ms since the epoch: what follows is
 * the tracer's exit pass, which names each distinct frame once and writes every row. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static unsigned blocks_per_stack;
static unsigned levels;

static void walk(unsigned level, unsigned path);

__attribute__((noinline)) static void left(unsigned level, unsigned path)
{
    walk(level + 1, path);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void right(unsigned level, unsigned path)
{
    walk(level + 1, path);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void walk(unsigned level, unsigned path)
{
    if (level == levels) {
        for (unsigned i = 0; i < blocks_per_stack; i++)
            if (malloc(32) == NULL)
                exit(1);
        return;
    }
    if ((path >> level) & 1)
        left(level, path);
    else
        right(level, path);
    __asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    levels = (unsigned)atoi(argv[1]);
    blocks_per_stack = (unsigned)atoi(argv[2]);
    for (unsigned path = 0; path < (1u << levels); path++)
        walk(0, path);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    printf("%lld\n", (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    return 0;
}
