/* check_leaks_in_a_thread.c: threads that call malloc_trace_check_leaks() and end. In a
 * static program the scan's question to the loader (dlsym, which fails there) left an error
 * that glibc freed as the thread ended: two orphan frees of blocks the program never had. */
#include "common.h"

#include <malloctrace.h>
#include <pthread.h>
#include <stdlib.h>

static void *check_and_end(void *unused)
{
    (void)unused;
    malloc_trace_check_leaks();
    return NULL;
}

__attribute__((noinline)) static void *allocate(size_t size)
{
    return forget(malloc(size));
}

int main(void)
{
    void *leaked = allocate(41);
    for (int i = 0; i < 3; i++) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, check_and_end, NULL) != 0
            || pthread_join(thread, NULL) != 0)
            return 3;
    }
    expect("leak", hide(leaked), 41, "malloc", "allocate");
    return 0;
}
