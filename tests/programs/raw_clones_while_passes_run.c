/* raw_clones_while_passes_run.c: the main thread, the program's only one, allocates blocks
 * that it keeps (4,000 a round), so that the flusher's periodic passes, once a second, write
 * many rows with its flush lock held, and makes children with the clone system call itself
 * (no fork handler runs: vsftpd's sessions). Each child calls setgid, leaks a block of 77
 * bytes and calls exit. A child's copy of the lock, held by its parent's flusher and by no
 * thread of its own, made it wait for ever in setgid's hook or in its exit pass. */
#include "common.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#define CHILDREN 60
#define BLOCKS_A_ROUND 4000
#define CHILD_SECONDS 10

static void *blocks[CHILDREN * BLOCKS_A_ROUND];
static void *kept;

/* The child's status, or -1 when it did not end within CHILD_SECONDS (then killed). */
static int wait_for(pid_t child)
{
    for (int waited_ms = 0; waited_ms < CHILD_SECONDS * 1000; waited_ms++) {
        int status;
        if (waitpid(child, &status, WNOHANG) == child)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        sleep_ms(1);
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return -1;
}

int main(void)
{
    int ended = 0, hung = 0;
    for (int i = 0; i < CHILDREN; i++) {
        for (int j = 0; j < BLOCKS_A_ROUND; j++)
            blocks[i * BLOCKS_A_ROUND + j] = malloc((size_t)(16 + j % 64));
        long child = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
        if (child == 0) {
            if (setgid(getgid()) != 0)
                _exit(98);
            kept = forget(malloc(77));
            exit(0);
        }
        if (child < 0)
            return 96;
        int status = wait_for((pid_t)child);
        ended += status == 0;
        hung += status == -1;
    }
    say("ENDED %d HUNG %d\n", ended, hung);
    return 0;
}
