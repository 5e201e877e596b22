/* stress_threads.c: 8 threads allocate for about 2 seconds; each block goes through a shared
 * queue and is usually freed by another thread than the one that allocated it. Each thread
 * also leaks 4 blocks on purpose. Its output is the same traced or not: nothing in it
 * depends on timing or addresses. */
#include "stress.h"

#define THREADS 8
#define LEAKS_PER_THREAD 4

static void *worker(void *argument)
{
    for (size_t i = 0; i < LEAKS_PER_THREAD; i++)
        leak_on_purpose(1000 + (size_t)(uintptr_t)argument * 10 + i);
    return stress_churn(argument);
}

int main(int argc, char **argv)
{
    long milliseconds = argc > 1 ? atol(argv[1]) : 2000;
    pthread_t threads[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        if (pthread_create(&threads[i], NULL, worker, (void *)i) != 0)
            return 3;
    sleep_ms(milliseconds);
    atomic_store(&stress_stop, true);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    stress_drain(THREADS);
    /* Thousands of blocks change threads in a second even traced: a handful would mean the
     * threads barely ran at the same time. */
    say("threads %d\n", THREADS);
    say("corrupt blocks %lu\n", atomic_load(&stress_stats.corrupt));
    say("blocks freed by another thread: %s\n",
        atomic_load(&stress_stats.cross_thread) > 1000 ? "over 1000" : "too few");
    return 0;
}
