/* threads.c: 4 threads allocate and free for a while, half of the frees in another thread
 * than the allocation (blocks pass through a shared ring); each thread leaks 5 known blocks.
 * Mode "exit": a thread calls exit(7) while the others still allocate. */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define RING 1024

static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static void *ring[RING];
static unsigned ring_next;
static atomic_bool stop;

__attribute__((noinline)) static void *leak_in_thread(size_t size)
{
    void *block = malloc(size);
    expect("leak", block, (long)size, "malloc", "leak_in_thread");
    return block;
}

/* Swaps a block into the ring and frees what was there, usually another thread's block. */
static void pass_through_ring(void *block)
{
    pthread_mutex_lock(&ring_lock);
    void *previous = ring[ring_next];
    ring[ring_next] = block;
    ring_next = (ring_next + 1) % RING;
    pthread_mutex_unlock(&ring_lock);
    free(previous);
}

static void *worker(void *argument)
{
    unsigned seed = (unsigned)(uintptr_t)argument;
    for (int i = 0; i < 5; i++)
        leak_in_thread((size_t)(i + 1) * 10 + seed);
    for (int i = 0; i < 40000 && !atomic_load(&stop); i++) {
        seed = seed * 1103515245u + 12345u;
        size_t size = 8 + (seed >> 16) % 4096;
        void *block = (seed & 1) ? malloc(size) : calloc(1, size);
        if (seed & 2)
            pass_through_ring(block);
        else
            free(realloc(block, size * 2));
    }
    return NULL;
}

static void *churn_forever(void *unused)
{
    (void)unused;
    for (;;)
        free(malloc(48));
    return NULL;
}

static void *exit_from_thread(void *unused)
{
    (void)unused;
    worker((void *)(uintptr_t)1);
    for (int i = 0; i < RING; i++)
        free(ring[i]);
    exit(7);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "exit") == 0) {
        pthread_t churners[3];
        for (int i = 0; i < 3; i++)
            pthread_create(&churners[i], NULL, churn_forever, NULL);
        sleep_ms(100);
        pthread_t exiting;
        pthread_create(&exiting, NULL, exit_from_thread, NULL);
        pthread_join(exiting, NULL); /* never returns: the thread ends the process */
        return 1;
    }
    pthread_t threads[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        pthread_create(&threads[i], NULL, worker, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < RING; i++)
        free(ring[i]);
    return 0;
}
