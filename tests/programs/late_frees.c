/* late_frees.c MODE: run with malloc_second_peremption=1; blocks old enough to be written as
 * `malloc` by the flush at about 2 s, then freed in ways whose late `free` rows were lost.
 * "exit": a thread frees 30,000 of them one by one while main calls exit, so that frees
 * land while the exit pass reads the modules and copies the table. "checked": a block that
 * malloc_trace_check_leaks wrote as a leak, then freed: it is never written again. "grown":
 * a getline buffer that getline moves to a new address. "ignored": two blocks passed to
 * malloc_trace_ignore after their `malloc` rows were written, one kept, one freed. "errno":
 * a block written as `malloc` freed when no new mapping can be made (the tracer's queue for
 * its late row cannot map its first page): free leaves errno as it was. "realloc" (with
 * MALLOC_MMAP_THRESHOLD_ above 2 MiB, so that realloc copies): a thread grows 1-MiB blocks
 * one by one while main calls exit, so that one is inside realloc as the exit pass runs. Every
 * `malloc` row must be settled,
 * by a `free` row or an exit row, and no block get a row after its exit row. */
#include <errno.h>
#include <malloctrace.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "common.h"

#define BLOCKS 30000

static void *blocks[BLOCKS];
static volatile int freeing;

static void *free_them(void *unused)
{
    (void)unused;
    freeing = 1;
    for (int i = 0; i < BLOCKS; i++) {
        free(blocks[i]);
        for (volatile int pause = 0; pause < 200; pause++)
            continue;
    }
    return NULL;
}

static int free_while_exiting(void)
{
    for (int i = 0; i < BLOCKS; i++)
        blocks[i] = malloc(24);
    sleep_ms(2500);
    pthread_t thread;
    if (pthread_create(&thread, NULL, free_them, NULL) != 0)
        return 3;
    while (!freeing)
        continue;
    sleep_ms(5);
    say("exiting while the thread frees\n");
    exit(0);
}

static int free_after_check(void)
{
    static volatile unsigned long hidden;
    hidden = (unsigned long)malloc(40) ^ 0x5a5a5a5a5a5a5a5aul; /* no pointer to it */
    sleep_ms(2500);
    scrub_stack();
    long found = malloc_trace_check_leaks ? malloc_trace_check_leaks() : -1;
    free((void *)(hidden ^ 0x5a5a5a5a5a5a5a5aul));
    say("checked: %ld, %p\n", found, (void *)(hidden ^ 0x5a5a5a5a5a5a5a5aul));
    return 0;
}

static int grow_a_getline_buffer(void)
{
    char text[6000];
    memset(text, 'x', sizeof text);
    text[3] = '\n';
    text[sizeof text - 1] = '\n';
    FILE *stream = fmemopen(text, sizeof text, "r");
    char *line = NULL, *first;
    size_t capacity = 0;
    if (stream == NULL || getline(&line, &capacity, stream) != 4)
        return 4;
    first = line;
    char *volatile after = malloc(32); /* keeps realloc from growing the buffer in place */
    sleep_ms(2500);
    if (getline(&line, &capacity, stream) != (ssize_t)sizeof text - 4)
        return 5;
    fclose(stream);
    say("grown: %s, %p\n", line != first ? "moved" : "in place", (void *)first);
    free(line);
    free(after);
    return 0;
}

static void *ignored_and_kept;

static int ignore_written_blocks(void)
{
    ignored_and_kept = malloc(64);
    void *freed = malloc(65);
    sleep_ms(2500);
    if (malloc_trace_ignore) {
        malloc_trace_ignore(ignored_and_kept);
        malloc_trace_ignore(freed);
    }
    free(freed);
    say("ignored: %p, %p\n", ignored_and_kept, freed);
    return 0;
}

#define GROWN 200
#define GROWN_SIZE ((size_t)1 << 20)

static void *grown[GROWN];
static volatile int growing;

static void *grow_them(void *unused)
{
    (void)unused;
    growing = 1;
    for (int i = 0; i < GROWN; i++)
        grown[i] = realloc(grown[i], 2 * GROWN_SIZE);
    return NULL;
}

static int realloc_while_exiting(void)
{
    for (int i = 0; i < GROWN; i++) {
        grown[i] = malloc(GROWN_SIZE);
        memset(grown[i], 1, 4096);
    }
    sleep_ms(2500);
    pthread_t thread;
    if (pthread_create(&thread, NULL, grow_them, NULL) != 0)
        return 3;
    while (!growing)
        continue;
    sleep_ms(5);
    say("exiting while the thread reallocs\n");
    exit(0);
}

/* The bytes of address space the process has mapped. */
static size_t mapped_bytes(void)
{
    FILE *statm = fopen("/proc/self/statm", "r");
    size_t pages = 0;
    if (statm != NULL) {
        if (fscanf(statm, "%zu", &pages) != 1)
            pages = 0;
        fclose(statm);
    }
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}

static int free_keeps_errno(void)
{
    char *volatile block = malloc(40);
    sleep_ms(2500);
    struct rlimit limit = {mapped_bytes() + 4 * 4096, RLIM_INFINITY};
    setrlimit(RLIMIT_AS, &limit);
    while (mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED)
        continue;
    errno = 0;
    free(block);
    int after_free = errno;
    say("errno after free: %d\n", after_free);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "exit") == 0)
        return free_while_exiting();
    if (argc == 2 && strcmp(argv[1], "checked") == 0)
        return free_after_check();
    if (argc == 2 && strcmp(argv[1], "grown") == 0)
        return grow_a_getline_buffer();
    if (argc == 2 && strcmp(argv[1], "ignored") == 0)
        return ignore_written_blocks();
    if (argc == 2 && strcmp(argv[1], "errno") == 0)
        return free_keeps_errno();
    if (argc == 2 && strcmp(argv[1], "realloc") == 0)
        return realloc_while_exiting();
    return 2;
}
