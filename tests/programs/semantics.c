/* semantics.c: prints what the allocation functions return (NULL or not, errno, alignment)
 * in edge cases. Traced or not, the output must be the same. Leaks one block kept by a
 * failed realloc. */
#include "common.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A size no allocator can give. valgrind reports one above PTRDIFF_MAX as a fishy (negative)
 * argument, an error: under it, a size it takes without a word and cannot give either. */
#define HUGE_SIZE (RUNNING_ON_VALGRIND ? (size_t)PTRDIFF_MAX - 4096 : SIZE_MAX - 4096)

static void show(const char *what, const void *ptr, int error, size_t alignment)
{
    say("%s: %s errno=%d aligned=%d\n", what, ptr ? "ptr" : "NULL", error,
        ptr && alignment ? (int)((uintptr_t)ptr % alignment == 0) : -1);
}

#define TRY(what, expression, alignment)                                                    \
    do {                                                                                    \
        errno = 0;                                                                          \
        void *ptr_ = (expression);                                                          \
        show(what, ptr_, errno, alignment);                                                 \
        free(ptr_);                                                                         \
    } while (0)

__attribute__((noinline)) static void *keep_after_failed_realloc(void)
{
    void *block = malloc(77);
    errno = 0;
    void *bigger = realloc(block, HUGE_SIZE);
    show("realloc huge", bigger, errno, 0);
    expect("leak", block, 77, "malloc", "keep_after_failed_realloc");
    return block;
}

static int errno_in_handler;

/* The first stack through a signal frame, which the unwind tables leave to libunwind: its
 * address checks read its pipe, which left EAGAIN in errno. */
static void allocate_in_handler(int signal_number)
{
    (void)signal_number;
    errno = 4242;
    free(malloc(10));
    errno_in_handler = errno;
}

int main(void)
{
    TRY("malloc 0", malloc(0), 16);
    TRY("malloc huge", malloc(HUGE_SIZE), 0);
    TRY("calloc overflow", calloc(SIZE_MAX / 2, 4), 0);
    TRY("calloc 0", calloc(0, 8), 16);
    TRY("realloc NULL 0", realloc(NULL, 0), 16);
    TRY("reallocarray overflow", reallocarray(NULL, SIZE_MAX, 2), 0);
    TRY("aligned_alloc 3", aligned_alloc(3, 10), 0);
    TRY("aligned_alloc 256", aligned_alloc(256, 10), 256);
    TRY("memalign 4096", memalign(4096, 10), 4096);
    TRY("valloc", valloc(10), 4096);
    if (!RUNNING_ON_VALGRIND)
        TRY("pvalloc", pvalloc(10), 4096);
    void *p = NULL;
    errno = 0;
    int error = posix_memalign(&p, 3, 10);
    say("posix_memalign 3: %d %s\n", error, p ? "ptr" : "NULL");
    error = posix_memalign(&p, 1024, 10);
    say("posix_memalign 1024: %d aligned=%d\n", error, (int)((uintptr_t)p % 1024 == 0));
    free(p);
    void *q = malloc(10);
    errno = 0;
    void *r = realloc(q, 0);
    say("realloc p 0: %s errno=%d\n", r ? "ptr" : "NULL", errno);
    errno = 1234;
    void *s = malloc(100);
    free(s);
    free(NULL);
    say("errno kept: %d\n", errno);
    signal(SIGUSR1, allocate_in_handler);
    raise(SIGUSR1);
    say("errno kept in a signal handler: %d\n", errno_in_handler);
    keep_after_failed_realloc();
    return 0;
}
