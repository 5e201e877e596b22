/* closes_everything_then_drops_privileges.c: a daemon's start, as dnsmasq's: it closes every
 * descriptor it did not open (the trace's and the tracer's /proc/self among them), drops its
 * privileges to nobody, leaks a block and exits. The tracer opened its file again at the
 * next flush only, as nobody, which may not open a file of root's: every row was lost. With
 * "fork", a child forked after the close drops its privileges instead, and leaks. */
#include "common.h"

#include <stdlib.h>
#include <sys/wait.h>

static void *kept;

__attribute__((noinline)) static void drop_and_leak(size_t size)
{
    if (setgid(65534) != 0 || setuid(65534) != 0)
        _exit(98);
    void *block = malloc(size);
    expect("leak", block, (long)size, "malloc", "drop_and_leak");
    kept = hide(block);
}

int main(int argc, char **argv)
{
    for (int fd = STDERR_FILENO + 1; fd < 1024; fd++)
        close(fd);
    if (argc > 1 && strcmp(argv[1], "fork") == 0) {
        pid_t child = fork();
        if (child == 0) {
            drop_and_leak(77);
            return 0;
        }
        int status;
        if (child < 0 || waitpid(child, &status, 0) != child || status != 0)
            return 97;
        return 0;
    }
    drop_and_leak(123);
    return 0;
}
