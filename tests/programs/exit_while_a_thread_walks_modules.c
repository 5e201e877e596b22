/* exit_while_a_thread_walks_modules.c: leaks 1,000 blocks, then main returns 3 while a
 * thread walks the loaded modules with dl_iterate_phdr, its callback opening and closing a
 * file (as a crash reporter reading each module does). The callback holds the loader's lock
 * and takes stdio's, which the exit pass holds (so that a second exit waits for it): the
 * pass must not ask the loader while it holds it, or both wait for ever. */
#include "common.h"

#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define LEAKS 1000
#define WALKS_BEFORE_EXIT 10

static void *volatile kept;
static atomic_int walks;

__attribute__((noinline)) static void leak_blocks(void)
{
    for (int i = 0; i < LEAKS; i++)
        kept = forget(malloc(40));
}

static int open_a_file(struct dl_phdr_info *info, size_t size, void *unused)
{
    (void)info;
    (void)size;
    (void)unused;
    FILE *file = fopen("/proc/self/stat", "r");
    if (file != NULL)
        fclose(file);
    return 0;
}

static void *walk_modules(void *unused)
{
    (void)unused;
    for (;;) {
        dl_iterate_phdr(open_a_file, NULL);
        atomic_fetch_add(&walks, 1);
    }
}

int main(void)
{
    leak_blocks();
    pthread_t thread;
    if (pthread_create(&thread, NULL, walk_modules, NULL) != 0)
        return 1;
    while (atomic_load(&walks) < WALKS_BEFORE_EXIT)
        sleep_ms(1);
    return 3;
}
