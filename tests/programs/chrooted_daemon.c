/* chrooted_daemon.c: `chrooted_daemon DIRECTORY [fork]`: a daemon's privilege separation:
 * keeps a block reachable from a global, leaks another, then goes into a chroot at DIRECTORY
 * (empty: no /proc there) and exits; with "fork", first forks a child there that leaks a
 * block of its own and exits. The exit passes' leak scans must still read the process's
 * mappings and list its threads (they wrote every block as a leak, the reachable one and
 * libc's own included). */
#include "common.h"

#include <stdlib.h>
#include <sys/wait.h>

static void *config;
static void *kept;

__attribute__((noinline)) static void leak(void)
{
    void *block = malloc(33);
    expect("leak", block, 33, "malloc", "leak");
    kept = hide(block);
}

__attribute__((noinline)) static void leak_in_child(void)
{
    void *block = malloc(21);
    expect("leak", block, 21, "malloc", "leak_in_child");
    kept = hide(block);
}

int main(int argc, char **argv)
{
    config = malloc(64);
    leak();
    if (argc < 2 || chroot(argv[1]) != 0 || chdir("/") != 0)
        return 99;
    say("in the chroot\n");
    if (argc > 2 && strcmp(argv[2], "fork") == 0) {
        pid_t child = fork();
        if (child == 0) {
            leak_in_child();
            scrub_stack();
            exit(0);
        }
        int status;
        if (child < 0 || waitpid(child, &status, 0) != child || status != 0)
            return 98;
    }
    return 0;
}
