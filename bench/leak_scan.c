/* leak_scan.c: `leak_scan BLOCKS`: keeps BLOCKS blocks of 16 to 256 bytes reachable from a
 * global table, leaks a list of 1,000 more, then times malloc_trace_check_leaks() twice: the
 * first scans and writes the 1,000 rows (naming their frames), the second only scans.
 * Prints both times in milliseconds and what the second found. */
#include <malloctrace.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void **table; /* not static: the compiler must store it, as a root */

static double now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}

__attribute__((noinline)) static void leak_list(unsigned length)
{
    void **head = NULL;
    for (unsigned i = 0; i < length; i++) {
        void **node = calloc(4, sizeof(void *));
        node[0] = head;
        head = node;
    }
    __asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
    if (argc != 2 || malloc_trace_check_leaks == NULL)
        return 2;
    unsigned long blocks = strtoul(argv[1], NULL, 10);
    table = malloc(blocks * sizeof *table);
    unsigned seed = 1;
    for (unsigned long i = 0; i < blocks; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t size = 16 + (seed >> 16) % 241;
        table[i] = malloc(size);
        memset(table[i], 0, size);
    }
    leak_list(1000);
    double start = now_ms();
    malloc_trace_check_leaks();
    double first = now_ms() - start;
    start = now_ms();
    long found = malloc_trace_check_leaks();
    double second = now_ms() - start;
    printf("%.1f %.1f %ld\n", first, second, found);
    return 0;
}
