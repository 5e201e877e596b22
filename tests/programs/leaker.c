/* leaker.c: `leaker STATUS COUNT SIZE [DIRECTORY]`: leaks COUNT blocks of SIZE bytes through
 * a chain of three functions (after changing to DIRECTORY, when given), then exits with
 * STATUS. */
#include "common.h"

#include <stdlib.h>
#include <unistd.h>

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
    if (argc != 4 && argc != 5)
        return 2;
    if (argc == 5 && chdir(argv[4]) != 0)
        return 2;
    long count = atol(argv[2]);
    for (long i = 0; i < count; i++)
        outer((size_t)atol(argv[3]));
    return atoi(argv[1]);
}
