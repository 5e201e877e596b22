/* stress_exit_thread.c: 6 threads allocate and free across threads without pause; after
 * 300 ms a seventh thread, which churned too, calls exit(7) while they still run. The exit
 * pass then meets blocks in every state: in the queue, in a thread's hands, being freed.
 * The main thread waits in pthread_join and never returns. */
#include "stress.h"

#define CHURNERS 6

static void *exit_from_thread(void *unused)
{
    (void)unused;
    uint64_t random = 42;
    for (int i = 0; i < 3; i++)
        leak_on_purpose(700 + (size_t)i);
    for (int i = 0; i < 3000; i++)
        stress_step(CHURNERS, &random);
    sleep_ms(300);
    say("exiting from a thread; corrupt blocks so far %lu\n",
        atomic_load(&stress_stats.corrupt));
    exit(7);
}

int main(void)
{
    pthread_t threads[CHURNERS];
    for (uintptr_t i = 0; i < CHURNERS; i++)
        if (pthread_create(&threads[i], NULL, stress_churn, (void *)i) != 0)
            return 3;
    pthread_t exiting;
    if (pthread_create(&exiting, NULL, exit_from_thread, NULL) != 0)
        return 3;
    pthread_join(exiting, NULL); /* never returns: the thread ends the process */
    return 1;
}
