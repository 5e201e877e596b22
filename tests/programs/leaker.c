/* leaker.c: `leaker STATUS COUNT SIZE`: leaks COUNT blocks of SIZE bytes through a chain of
 * three functions, then exits with STATUS. */
#include "common.h"

#include <stdlib.h>

__attribute__((noinline)) static void *leaf(size_t size)
{
    void *block = malloc(size);
    expect("leak", block, (long)size, "malloc", "leaf");
    return block;
}

__attribute__((noinline)) static void *middle(size_t size)
{
    void *block = leaf(size);
    say("# %p\n", block);
    return block;
}

__attribute__((noinline)) static void *outer(size_t size)
{
    void *block = middle(size);
    say("# %p\n", block);
    return block;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    long count = atol(argv[2]);
    for (long i = 0; i < count; i++)
        outer((size_t)atol(argv[3]));
    return atoi(argv[1]);
}
