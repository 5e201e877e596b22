/* loader_blocks.c: what the dynamic loader allocates is no leak. A thread ends with
 * pthread_exit (glibc opens libgcc_s for the unwinding), and main opens libgcc_s itself and
 * keeps it open: when it was loaded at start, as a dependency of the preload library, its
 * link map lies in the loader's own memory, which no scan reads, and each of those opens
 * gives it an array allocated through malloc. One block is leaked, to show the scan ran. */
#include "common.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

static void *thread_exits(void *unused)
{
    (void)unused;
    pthread_exit(NULL);
}

__attribute__((noinline)) static void *allocate(size_t size)
{
    return forget(malloc(size));
}

int main(void)
{
    pthread_t thread;
    if (pthread_create(&thread, NULL, thread_exits, NULL) != 0
        || pthread_join(thread, NULL) != 0)
        return 3;
    if (dlopen("libgcc_s.so.1", RTLD_NOW) == NULL)
        return 4;
    void *leaked = allocate(77);
    expect("leak", hide(leaked), 77, "malloc", "allocate");
    return 0;
}
