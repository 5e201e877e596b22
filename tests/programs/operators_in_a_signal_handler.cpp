// operators_in_a_signal_handler.cpp: the program's own operator new and delete, with a
// header in front of each block, called by a timer's signal handler every 0.2 ms while the
// program calls them too (the handler often lands inside the tracer's hooks). libstdc++'s
// sized and array deletes call the program's delete. Nothing leaks and nothing is freed
// twice: no row. A delete inside a hook ran the program's operator under the tracer's guard:
// its free went unseen and the operand became an orphan free (some 24,000 rows a run).
// The operators call malloc and free with the signal blocked: a handler's malloc inside
// glibc's malloc is the program's own undefined behaviour, and once the tracer's thread runs
// glibc takes its arena lock, which the handler then waits for for ever (1 run in 200).
#include "common.h"

#include <csignal>
#include <cstdlib>
#include <new>
#include <pthread.h>
#include <sys/time.h>

static volatile long live;
static volatile long handled;

/* Blocks the timer's signal; returns the mask to put back. */
static sigset_t block_alarm()
{
    sigset_t alarm, old;
    sigemptyset(&alarm);
    sigaddset(&alarm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alarm, &old);
    return old;
}

static void *malloc_unsignalled(size_t size)
{
    sigset_t old = block_alarm();
    void *block = malloc(size);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return block;
}

static void free_unsignalled(void *block)
{
    sigset_t old = block_alarm();
    free(block);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void *operator new(size_t size)
{
    auto *block = static_cast<long *>(malloc_unsignalled(size + 16));
    if (block == nullptr)
        throw std::bad_alloc();
    block[0] = 77;
    __atomic_add_fetch(&live, 1, __ATOMIC_RELAXED);
    return block + 2;
}

void operator delete(void *ptr) noexcept
{
    if (ptr == nullptr)
        return;
    long *block = static_cast<long *>(ptr) - 2;
    if (block[0] != 77)
        abort();
    block[0] = 0;
    __atomic_sub_fetch(&live, 1, __ATOMIC_RELAXED);
    free_unsignalled(block);
}

static void allocate_and_delete(int)
{
    int *values = new int[5];
    delete[] values;
    long *value = new long(1);
    delete value;
    handled = handled + 1;
}

int main()
{
    signal(SIGALRM, allocate_and_delete);
    struct itimerval every = {{0, 200}, {0, 200}};
    setitimer(ITIMER_REAL, &every, nullptr);
    for (int i = 0; i < 200000 || handled == 0; i++) {
        char *text = new char[i % 50 + 1];
        delete[] text;
        long *value = new long(i);
        delete value;
    }
    struct itimerval stop = {};
    setitimer(ITIMER_REAL, &stop, nullptr);
    say("live %ld, handled %s\n", live, handled > 0 ? "yes" : "no");
    return 0;
}
