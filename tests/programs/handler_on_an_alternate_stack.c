/* handler_on_an_alternate_stack.c BYTES: a signal handler that allocates, run 10 times on an
 * alternate signal stack (sigaltstack) of BYTES with an inaccessible page below it, so that
 * running past its end is a crash, not a silent write into whatever lies below. The blocks
 * are kept in a global: with MALLOC_TRACE_REACHABLE=1 each gets a `reachable` row of 1234
 * bytes whose stack was taken on that stack. */
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "common.h"

#define SIGNALS 10

static void *kept[SIGNALS];
static volatile sig_atomic_t handled;

static void handle_signal(int number)
{
    (void)number;
    kept[handled] = malloc(1234);
    handled = handled + 1;
}

int main(int argc, char **argv)
{
    size_t bytes = argc > 1 ? strtoul(argv[1], NULL, 10) : 8192;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    bytes = (bytes + page - 1) / page * page;
    char *mapped = mmap(NULL, bytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                        -1, 0);
    if (mapped == MAP_FAILED || mprotect(mapped, page, PROT_NONE) != 0)
        return 1;
    stack_t alternate = {.ss_sp = mapped + page, .ss_size = bytes};
    if (sigaltstack(&alternate, NULL) != 0)
        return 1;
    struct sigaction action = {.sa_handler = handle_signal, .sa_flags = SA_ONSTACK};
    sigaction(SIGUSR1, &action, NULL);
    for (int i = 0; i < SIGNALS; i++)
        raise(SIGUSR1);
    say("handled %d\n", (int)handled);
    return 0;
}
