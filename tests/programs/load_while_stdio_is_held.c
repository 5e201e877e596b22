/* load_while_stdio_is_held.c LIBRARY: a thread holds stdio's list lock for 300 ms
 * (fflush(NULL) of a stream whose write sleeps) while main returns, and another thread loads
 * LIBRARY 50 ms later, whose constructor keeps a block in the library's data. The exit pass
 * asks the loader for the modules before it waits for that lock (a thread in the loader may
 * wait for it: see flusher.c), so the library is loaded after: its data must be a root all
 * the same (the block was written as a leak). */
#include "common.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static atomic_int writing;
static const char *library;

static ssize_t slow_write(void *cookie, const char *data, size_t size)
{
    (void)cookie;
    (void)data;
    atomic_store(&writing, 1);
    sleep_ms(300);
    return (ssize_t)size;
}

static void *hold_stdio(void *unused)
{
    (void)unused;
    cookie_io_functions_t io = {.write = slow_write};
    FILE *stream = fopencookie(NULL, "w", io);
    if (stream == NULL)
        _exit(1);
    fputs("data", stream);
    fflush(NULL);
    return NULL;
}

static void *load_library(void *unused)
{
    (void)unused;
    sleep_ms(50);
    if (dlopen(library, RTLD_NOW) == NULL)
        _exit(1);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    library = argv[1];
    pthread_t holder, loader;
    if (pthread_create(&holder, NULL, hold_stdio, NULL) != 0)
        return 1;
    while (!atomic_load(&writing))
        sleep_ms(1);
    if (pthread_create(&loader, NULL, load_library, NULL) != 0)
        return 1;
    return 3;
}
