/* fork_after_a_malloc_row.c: `fork_after_a_malloc_row free|keep`: a block of 100 bytes kept
 * until a periodic flush has written it as malloc, then a fork: the child frees its copy
 * (free), or keeps it through a global (keep), and exits; then the parent frees its own.
 * Every row written settles another: the child's late free, or its reachable row at exit,
 * settles the parent's malloc row, and the parent's late free finds none left to settle (in
 * the child's file of its own with %p, the child's late free finds none). */
#include "common.h"

#include <stdlib.h>
#include <sys/wait.h>

static void *kept;

int main(int argc, char **argv)
{
    int keep = argc > 1 && strcmp(argv[1], "keep") == 0;
    kept = malloc(100);
    while (!trace_has_row("malloc", 100))
        sleep_ms(20);
    pid_t child = fork();
    if (child == 0) {
        if (!keep) {
            free(kept);
            kept = NULL;
        }
        exit(0);
    }
    int status;
    if (child < 0 || waitpid(child, &status, 0) != child || status != 0)
        return 1;
    free(kept);
    return 0;
}
