/* dl_plugin.c: built twice as a shared library (PLUGIN first and second); the host loads
 * one, lets it allocate through the host's allocator callback, unloads it, then the other. */
#include <stddef.h>

#define JOIN(a, b) a##b
#define NAME(a, b) JOIN(a, b)

__attribute__((noinline)) void *NAME(work_in_, PLUGIN)(void *(*allocate)(size_t))
{
    void *block = allocate(PLUGIN_SIZE); /* AT(plugin_work) */
    __asm__ volatile("" ::: "memory");
    return block;
}

#include <stdlib.h>

void *left_by_destructor;

/* Runs inside dlclose: what it allocates is named from the library being unloaded. */
__attribute__((destructor, noinline)) static void NAME(unload_, PLUGIN)(void)
{
    left_by_destructor = malloc(PLUGIN_SIZE + 1); /* AT(plugin_unload) */
    __asm__ volatile("" ::: "memory");
}

void *plugin_run(void *(*allocate)(size_t))
{
    void *block = NAME(work_in_, PLUGIN)(allocate);
    __asm__ volatile("" ::: "memory");
    return block;
}
