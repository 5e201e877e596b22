/* replaced_plugin.c: built twice, NAME first_build and second_build, for
 * replaced_plugin_host.c: entry(size) allocates through NAME. Its destructor allocates from
 * 2,048 distinct stacks (freed at once), which the tracer names after the unmapping, so that
 * the host's other thread loads the other build at the same path and address meanwhile. */
#include <stdatomic.h>
#include <stdlib.h>

static atomic_int *unloading;

void watch(atomic_int *flag);
void *entry(size_t size);

void watch(atomic_int *flag)
{
    unloading = flag;
}

__attribute__((noinline)) void *NAME(size_t size)
{
    return malloc(size);
}

void *entry(size_t size)
{
    return NAME(size);
}

/* Each bit of path picks one of two calls: 2^levels stacks. */
__attribute__((noinline)) static void *branch(int levels, unsigned path)
{
    volatile unsigned bit = path & 1u;
    if (levels == 0)
        return malloc(8);
    void *block;
    if (bit)
        block = branch(levels - 1, path >> 1);
    else
        block = branch(levels - 1, path >> 1);
    return block;
}

__attribute__((destructor)) static void unload(void)
{
    for (unsigned path = 0; path < 2048; path++)
        free(branch(11, path));
    if (unloading != NULL)
        atomic_store(unloading, 1);
}
