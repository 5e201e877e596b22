/* children_exit_together.c: `children_exit_together COUNT`: forks COUNT children, which share
 * the parent's descriptor of the trace (no %p), and lets them all leak a block and exit at
 * once, so that their exit passes write to the file together. Exits with the number of
 * children that did not exit with status 0. */
#include "common.h"

#include <stdlib.h>
#include <sys/wait.h>

static void *kept;

__attribute__((noinline)) static void leak_and_exit(int read_end)
{
    char byte;
    if (read(read_end, &byte, 1) < 0) /* returns when the parent closes its end */
        _exit(98);
    kept = hide(malloc(10));
    exit(0);
}

int main(int argc, char **argv)
{
    int count = argc > 1 ? atoi(argv[1]) : 8;
    int ends[2];
    if (pipe(ends) != 0)
        return 99;
    for (int i = 0; i < count; i++) {
        pid_t child = fork();
        if (child < 0)
            return 97;
        if (child == 0) {
            close(ends[1]);
            leak_and_exit(ends[0]);
        }
    }
    close(ends[0]);
    close(ends[1]);
    int failed = 0;
    for (int i = 0; i < count; i++) {
        int status;
        if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed++;
    }
    return failed;
}
