/* alloc.c: `alloc THREADS OPERATIONS DEPTH`: each thread, DEPTH calls deep, allocates and
 * frees OPERATIONS blocks through a ring of 64 live pointers (so frees come in another
 * order than allocations), sizes 8 to 4096 bytes, some calloc and realloc. Prints the
 * nanoseconds per malloc+free pair, per thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static unsigned long operations;
static unsigned depth;

static double seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

__attribute__((noinline)) static void churn(unsigned seed)
{
    void *ring[64] = {0};
    for (unsigned long i = 0; i < operations; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned slot = (seed >> 8) & 63;
        size_t size = 8 + (seed >> 16) % 4089;
        free(ring[slot]);
        switch (seed & 15) {
        case 0:
            ring[slot] = calloc(1, size);
            break;
        case 1:
            ring[slot] = realloc(malloc(size / 2 + 1), size);
            free(ring[(slot + 1) & 63]); /* keeps pairs balanced: one more free */
            ring[(slot + 1) & 63] = malloc(16);
            break;
        default:
            ring[slot] = malloc(size);
        }
    }
    for (unsigned i = 0; i < 64; i++)
        free(ring[i]);
}

__attribute__((noinline)) static void descend(unsigned level, unsigned seed)
{
    if (level >= depth)
        churn(seed);
    else
        descend(level + 1, seed);
    __asm__ volatile("" ::: "memory");
}

static void *thread_main(void *argument)
{
    descend(3, (unsigned)(size_t)argument); /* main, thread start and this are 3 frames */
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    unsigned threads = (unsigned)atoi(argv[1]);
    operations = strtoul(argv[2], NULL, 10);
    depth = (unsigned)atoi(argv[3]);
    pthread_t ids[64];
    double start = seconds();
    for (unsigned i = 0; i < threads && i < 64; i++)
        pthread_create(&ids[i], NULL, thread_main, (void *)(size_t)(i + 1));
    for (unsigned i = 0; i < threads && i < 64; i++)
        pthread_join(ids[i], NULL);
    printf("%.1f\n", (seconds() - start) * 1e9 / (double)operations);
    return 0;
}
