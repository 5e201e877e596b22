/* exit_in_allocator.c: linked with locking_allocator.c. A signal handler calls exit(5)
 * while it interrupts malloc, which holds its allocator's lock. The exit pass must allocate
 * nothing (its frames unnamed so far are written as MODULE+0xOFFSET): naming them took
 * libdw into malloc, which waited for that lock for ever. */
#include "common.h"

#include <signal.h>
#include <stdlib.h>

void locking_allocator_raise_in_next_malloc(void);

static void *kept;

__attribute__((noinline)) static void leak(void)
{
    void *block = malloc(93);
    expect("leak", block, 93, "malloc", "*");
    kept = hide(block);
}

static void stop(int signal_number)
{
    (void)signal_number;
    exit(5);
}

int main(void)
{
    leak();
    scrub_stack(); /* malloc's frames, live at exit, must find no copy of the leak's address */
    signal(SIGUSR1, stop);
    locking_allocator_raise_in_next_malloc();
    void *never = malloc(17);
    say("malloc returned %p\n", never);
    return 0;
}
