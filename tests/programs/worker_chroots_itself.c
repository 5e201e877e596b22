/* worker_chroots_itself.c: `worker_chroots_itself DIRECTORY`: a daemon forks a worker, which
 * allocates, goes into a chroot at DIRECTORY (empty) and leaks a block there. With %p in the
 * trace's path the worker's own file was opened at its first flush, inside the chroot, where
 * that path does not exist: every row of the worker was lost. */
#include "common.h"

#include <stdlib.h>
#include <sys/wait.h>

static void *kept[2];

__attribute__((noinline)) static void *leak(size_t size)
{
    void *block = malloc(size);
    expect("leak", block, (long)size, "malloc", "leak");
    return hide(block);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    kept[0] = leak(33);
    pid_t child = fork();
    if (child == 0) {
        free(hide(kept[0])); /* the parent's leak, not the child's too */
        kept[0] = leak(21);
        if (chroot(argv[1]) != 0 || chdir("/") != 0)
            _exit(98);
        kept[1] = leak(22);
        return 0;
    }
    int status;
    if (child < 0 || waitpid(child, &status, 0) != child || status != 0)
        return 97;
    return 0;
}
