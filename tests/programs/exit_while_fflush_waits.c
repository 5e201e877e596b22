/* exit_while_fflush_waits.c: `exit_while_fflush_waits exit|check|periodic`: main's
 * fflush(NULL) holds glibc's lock of the list of streams around a write that waits for a
 * pipe; a SIGALRM handler leaks a block and calls exit(3), or malloc_trace_check_leaks() and
 * then _exit(5), and a child drains the pipe (after 2 s, or when the handler tells it).
 * exit, check: the alarm comes a second in. The leak pass takes that lock too (it holds it at
 * exit): handed to the flusher, it waited for the handler's thread, which waited for it, for
 * ever.
 * periodic: a block leaked first; a thread sends the alarm once the trace holds its malloc
 * row, which a periodic flush writes after naming its frames, meanwhile. Those names were
 * looked up through a FILE, whose opening waited for that lock under the flush lock, for
 * ever: the row never came (and, sent by a timer, the alarm's exit waited for the flush). */
#include "common.h"

#include <malloctrace.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static void *kept, *early;
static int checking, tell_reader = -1;

static void on_alarm(int signal_number)
{
    (void)signal_number;
    kept = forget(malloc(55));
    if (tell_reader >= 0 && write(tell_reader, "g", 1) != 1)
        _exit(98);
    if (!checking)
        exit(3);
    say("FOUND %ld\n", malloc_trace_check_leaks());
    _exit(5);
}

static void *send_the_alarm(void *main_thread)
{
    while (!trace_has_row("malloc", 4077))
        sleep_ms(20);
    pthread_kill(*(pthread_t *)main_thread, SIGALRM);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "exit";
    checking = strcmp(mode, "check") == 0;
    int periodic = strcmp(mode, "periodic") == 0;
    int ends[2], go[2];
    if (pipe(ends) != 0 || pipe(go) != 0)
        return 97;
    pid_t reader = fork();
    if (reader == 0) {
        close(ends[1]);
        close(go[1]);
        char drained[65536];
        if (periodic) {
            if (read(go[0], drained, 1) != 1)
                _exit(1);
        } else {
            sleep_ms(2000);
        }
        while (read(ends[0], drained, sizeof drained) > 0) {
        }
        _exit(0);
    }
    close(ends[0]);
    close(go[0]);
    FILE *stream = fdopen(ends[1], "w");
    static char buffer[1 << 20], data[(1 << 20) - 1];
    setvbuf(stream, buffer, _IOFBF, sizeof buffer);
    memset(data, 'x', sizeof data);
    fwrite(data, 1, sizeof data, stream);
    signal(SIGALRM, on_alarm);
    static pthread_t main_thread, alarm_sender;
    if (periodic) {
        early = forget(malloc(4077));
        tell_reader = go[1];
        main_thread = pthread_self();
        if (pthread_create(&alarm_sender, NULL, send_the_alarm, &main_thread) != 0)
            return 96;
    } else {
        alarm(1);
    }
    fflush(NULL);
    return 0;
}
