/* signalfd_reader.c: a daemon's way with signals: every thread blocks them all, and one
 * thread reads them from a signalfd and says each one. The leak scans (a call of
 * malloc_trace_check_leaks, and the exit pass) run while it waits there: the signal that
 * stops threads for a scan must not reach it (it read "signal 64"). It must read SIGUSR1,
 * which the program sends itself, and nothing else. */
#include "common.h"

#include <malloctrace.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>

static int signals;

static void *read_signals(void *unused)
{
    (void)unused;
    struct signalfd_siginfo info;
    while (read(signals, &info, sizeof info) == (ssize_t)sizeof info)
        say("signal %u\n", info.ssi_signo);
    return NULL;
}

static void pause_ms(long ms)
{
    struct timespec pause = {0, ms * 1000000L};
    nanosleep(&pause, NULL);
}

int main(void)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    signals = signalfd(-1, &all, SFD_CLOEXEC);
    if (signals < 0)
        return 99;
    pthread_t reader;
    if (pthread_create(&reader, NULL, read_signals, NULL) != 0)
        return 98;
    pause_ms(100); /* the reader waits in read by then */
    if (malloc_trace_check_leaks != NULL)
        malloc_trace_check_leaks();
    pause_ms(100);
    kill(getpid(), SIGUSR1);
    pause_ms(100);
    return 0; /* the exit pass's scan, the reader waiting in read again */
}
