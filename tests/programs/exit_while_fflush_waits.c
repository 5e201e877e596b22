/* exit_while_fflush_waits.c: `exit_while_fflush_waits exit|check`: main's fflush(NULL) holds
 * glibc's lock of the list of streams around a write that waits for a pipe, which a child
 * drains after 2 s; a SIGALRM handler, a second in, leaks a block and calls exit(3), or
 * malloc_trace_check_leaks() and then _exit(5). The leak pass takes that lock too (it opens
 * files with stdio, and holds it at exit): handed to the flusher, it waited for the handler's
 * thread, which waited for it, for ever. */
#include "common.h"

#include <malloctrace.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static void *kept;
static int checking;

static void on_alarm(int signal_number)
{
    (void)signal_number;
    kept = forget(malloc(55));
    if (!checking)
        exit(3);
    say("FOUND %ld\n", malloc_trace_check_leaks());
    _exit(5);
}

int main(int argc, char **argv)
{
    checking = argc > 1 && strcmp(argv[1], "check") == 0;
    int ends[2];
    if (pipe(ends) != 0)
        return 97;
    pid_t reader = fork();
    if (reader == 0) {
        close(ends[1]);
        sleep_ms(2000);
        char drained[65536];
        while (read(ends[0], drained, sizeof drained) > 0) {
        }
        _exit(0);
    }
    close(ends[0]);
    FILE *stream = fdopen(ends[1], "w");
    static char buffer[1 << 20], data[(1 << 20) - 1];
    setvbuf(stream, buffer, _IOFBF, sizeof buffer);
    memset(data, 'x', sizeof data);
    fwrite(data, 1, sizeof data, stream);
    signal(SIGALRM, on_alarm);
    alarm(1);
    fflush(NULL);
    return 0;
}
