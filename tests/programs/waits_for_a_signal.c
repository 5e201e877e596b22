/* waits_for_a_signal.c: says READY, then waits for SIGUSR1 or SIGINT and exits with 7 or 8:
 * what `malloc-trace run` is sent, the program gets. */
#include "common.h"

#include <signal.h>
#include <stdlib.h>

static volatile sig_atomic_t received;

static void on_signal(int signal_number)
{
    received = signal_number;
}

int main(void)
{
    signal(SIGUSR1, on_signal);
    signal(SIGINT, on_signal);
    free(malloc(16));
    say("READY\n");
    for (int i = 0; i < 3000 && received == 0; i++)
        sleep_ms(10);
    return received == SIGUSR1 ? 7 : received == SIGINT ? 8 : 1;
}
