/* exit_from_two_threads.c: `exit_from_two_threads main|thread`: the thread named leaks
 * 50,000 blocks and ends the process (main: returns 3 from main; thread: calls exit(3)), and
 * the other one does the same 30 ms after the first began its exit (an atexit handler says
 * when): during the exit pass, which writes 50,000 rows. glibc gives the second caller no
 * handler to run (the first took them all), and it used to end the process there, killing
 * the pass with every row unwritten. The blocks are the exiting thread's: the other one,
 * whose stack and registers are roots, never held their addresses. */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define LEAKS 50000

static void *volatile kept;
static atomic_int exiting;
static bool main_first;

__attribute__((noinline)) static void leak_blocks(void)
{
    for (int i = 0; i < LEAKS; i++)
        kept = forget(malloc(48));
}

static void say_exiting(void)
{
    atomic_store(&exiting, 1);
}

static void wait_for_the_first_exit(void)
{
    while (!atomic_load(&exiting))
        sleep_ms(1);
    sleep_ms(30);
}

static void *worker(void *unused)
{
    (void)unused;
    if (main_first)
        wait_for_the_first_exit();
    else
        leak_blocks();
    exit(3);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    main_first = strcmp(argv[1], "main") == 0;
    atexit(say_exiting);
    if (main_first)
        leak_blocks();
    pthread_t thread;
    if (pthread_create(&thread, NULL, worker, NULL) != 0)
        return 1;
    if (!main_first)
        wait_for_the_first_exit();
    return 3;
}
