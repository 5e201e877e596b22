/* fork_after_setuid.c: run as root, drops to user 65534 (the trace file stays root's), then
 * forks, and each process leaks a block. Without %p in out_file_path both append to the one
 * file, which the child could not open again as that user. Run as another user, it only
 * forks. */
#include "common.h"

#include <stdlib.h>
#include <sys/wait.h>

static void *volatile kept, *volatile spacer;

/* Not in main: the child calls exit from main, whose frame is then a root. */
__attribute__((noinline)) static void leak_block(long size)
{
    void *block = malloc((size_t)size);
    expect("leak", block, size, "malloc", "leak_block");
    kept = forget(block);
}

int main(void)
{
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
        return 2;
    pid_t child = fork();
    if (child < 0)
        return 3;
    if (child == 0)
        spacer = malloc(64); /* a global holds it: no row; the two blocks differ in address */
    leak_block(child == 0 ? 111 : 222);
    if (child == 0)
        exit(0);
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 4;
    return 0;
}
