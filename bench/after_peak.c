/* after_peak.c: `after_peak BLOCKS SECONDS`: allocates BLOCKS blocks of 16 to 79 bytes, frees
 * them all, hands glibc's free memory back (malloc_trim), then sleeps SECONDS, as a daemon
 * does after a burst. Prints its RSS in KiB at the peak, after the frees and after the
 * sleep: make bench runs it with a period of one second, to see what the tracer keeps. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long rss_kib(void)
{
    FILE *status = fopen("/proc/self/status", "r");
    if (status == NULL)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, status) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(status);
    return kib;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    unsigned long blocks = strtoul(argv[1], NULL, 10);
    unsigned seconds = (unsigned)strtoul(argv[2], NULL, 10);
    void **table = malloc(blocks * sizeof *table);
    if (table == NULL)
        return 1;
    for (unsigned long i = 0; i < blocks; i++)
        table[i] = malloc(16 + i % 64);
    long peak = rss_kib();
    for (unsigned long i = 0; i < blocks; i++)
        free(table[i]);
    free(table);
    malloc_trim(0);
    long freed = rss_kib();
    sleep(seconds);
    printf("%ld %ld %ld\n", peak, freed, rss_kib());
    return 0;
}
