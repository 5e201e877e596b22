/* closes_descriptors.c: `closes_descriptors DIRECTORY`, run with malloc_second_peremption=1.
 * A daemon's start: it closes every descriptor above 2, the tracer's and libunwind's among
 * them, and its next opens are handed those numbers again: a stdio stream whose last line
 * only exit writes, then FILES files written to before and after two flushes, and a signal
 * handler that allocates (a stack through a signal frame, which libunwind walks). Each file
 * must hold exactly what the program wrote, and the trace every row. */
#include "common.h"

#include <fcntl.h>
#include <malloctrace.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#define FILES 16

static char stream_buffer[4096];
static void *volatile from_handler;

static void allocate_in_handler(int signal_number)
{
    (void)signal_number;
    from_handler = malloc(77);
}

__attribute__((noinline)) static void *allocate(size_t size)
{
    void *block = malloc(size);
    say("# allocated %p\n", block);
    return block;
}

static int open_in(const char *directory, const char *name, int number)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%d", directory, name, number);
    return open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    void *kept = allocate(111);
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    int stream_fd = open_in(argv[1], "stream", 0);
    FILE *stream = stream_fd < 0 ? NULL : fdopen(stream_fd, "w");
    if (stream == NULL)
        return 3;
    malloc_trace_ignore(stream); /* its record would be written as a suspect: not this test's */
    setvbuf(stream, stream_buffer, _IOFBF, sizeof stream_buffer);
    int files[FILES];
    for (int i = 0; i < FILES; i++) {
        files[i] = open_in(argv[1], "file", i);
        if (files[i] < 0 || write(files[i], "first\n", 6) != 6)
            return 4;
    }
    signal(SIGUSR1, allocate_in_handler);
    raise(SIGUSR1);
    free(from_handler);
    sleep_ms(2500); /* flushes at about 1 s (the block too young) and 2 s (written) */
    for (int i = 0; i < FILES; i++)
        if (write(files[i], "second\n", 7) != 7 || close(files[i]) != 0)
            return 5;
    fputs("written at exit\n", stream);
    expect("malloc", kept, 111, "malloc", "allocate");
    expect("leak", kept, 111, "malloc", "allocate");
    return 0;
}
