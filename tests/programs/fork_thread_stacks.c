/* fork_thread_stacks.c: forks while THREADS threads of the parent are alive, and the child
 * starts and joins ROUNDS x THREADS threads of its own. In the child glibc caches the
 * parent's thread stacks, and frees their thread-local storage as the cache passes its limit
 * (40 MiB): with the lock of its stack cache held, from inside pthread_join. The child must
 * neither hang (alarm: it is killed after 20 s) nor write any `free` row. Exits 0 when the
 * child exited 0. */
#include "common.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>

#define THREADS 8
#define ROUNDS 20

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t released = PTHREAD_COND_INITIALIZER;
static int go;

static void *wait_for_release(void *unused)
{
    free(malloc(100));
    pthread_mutex_lock(&lock);
    while (!go)
        pthread_cond_wait(&released, &lock);
    pthread_mutex_unlock(&lock);
    return unused;
}

static void *allocate(void *unused)
{
    free(malloc(100));
    return unused;
}

int main(void)
{
    free(malloc(10)); /* the flusher runs */
    pthread_t parents[THREADS];
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&parents[i], NULL, wait_for_release, NULL) != 0)
            return 2;
    pid_t child = fork();
    if (child < 0)
        return 3;
    if (child == 0) {
        alarm(20);
        for (int round = 0; round < ROUNDS; round++) {
            pthread_t threads[THREADS];
            for (int i = 0; i < THREADS; i++)
                if (pthread_create(&threads[i], NULL, allocate, NULL) != 0)
                    _exit(4);
            for (int i = 0; i < THREADS; i++)
                pthread_join(threads[i], NULL);
        }
        exit(0);
    }
    pthread_mutex_lock(&lock);
    go = 1;
    pthread_cond_broadcast(&released);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < THREADS; i++)
        pthread_join(parents[i], NULL);
    int status;
    if (waitpid(child, &status, 0) != child)
        return 5;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        say("child status 0x%x\n", status);
        return 6;
    }
    return 0;
}
