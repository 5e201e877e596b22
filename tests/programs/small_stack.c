/* small_stack.c [LOCALS]: a thread with the smallest stack glibc allows, which calls
 * pthread_getattr_np (glibc allocates inside it, holding the thread's own lock) and then
 * allocates through a few calls of its own, keeping the block in a global (so that a trace
 * with MALLOC_TRACE_REACHABLE=1 shows the stack taken on the small stack). The tracer's per-thread state must not
 * come out of that stack, and finding the stack's bounds must not take that lock. With
 * LOCALS, the thread first fills that many bytes of its stack and allocates below them: the
 * tracer's hooks must fit in what is left (in the dynamic wrap form they took several KiB
 * more for libunwind's first call). */
#include <stdlib.h>

#include "common.h"

static char *kept;
static size_t locals;

__attribute__((noinline)) static size_t allocate_in_small_stack(int depth)
{
    if (depth > 0) {
        size_t size = allocate_in_small_stack(depth - 1);
        __asm__ volatile("" ::: "memory");
        return size;
    }
    kept = malloc(100);
    return kept != NULL ? 100 : 0;
}

__attribute__((noinline)) static size_t allocate_below_locals(int depth)
{
    if (locals == 0)
        return allocate_in_small_stack(depth);
    volatile char filled[locals];
    for (size_t i = 0; i < locals; i++)
        filled[i] = (char)i;
    size_t size = allocate_in_small_stack(depth);
    return filled[0] == 0 ? size : 0;
}

static void *body(void *argument)
{
    pthread_attr_t attributes;
    void *low;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attributes) == 0) {
        pthread_attr_getstack(&attributes, &low, &size);
        pthread_attr_destroy(&attributes);
    }
    *(size_t *)argument = size > 0 ? allocate_below_locals(8) : 0;
    return NULL;
}

int main(int argc, char **argv)
{
    locals = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
    size_t allocated = 0;
    int status = run_on_the_smallest_stack(body, &allocated);
    printf("pthread_create %d, allocated %zu\n", status, allocated);
    return status;
}
