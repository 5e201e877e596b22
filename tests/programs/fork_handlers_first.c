/* fork_handlers_first.c: a library whose fork handlers glibc registered before the tracer's
 * (its constructor runs first), so that its prepare handler runs after the tracer's, inside
 * the fork. It tells the program the fork has begun, then waits long enough for the program's
 * exit() to finalize every module (fork_while_exiting.c). */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

atomic_int fork_begun;

static void announce_and_wait(void)
{
    atomic_store(&fork_begun, 1);
    struct timespec pause = {0, 500 * 1000 * 1000};
    nanosleep(&pause, NULL);
}

__attribute__((constructor)) static void register_handlers(void)
{
    pthread_atfork(announce_and_wait, NULL, NULL);
}
