/* raw_clone_child.c: a child made by the clone system call itself, without CLONE_VM, as
 * vsftpd makes each session (to give it namespaces of its own): no fork handler runs. It
 * leaks a block, calls setgid and exit(7): its row must carry its own thread id, go into its
 * own file with %p, and its exit pass must run (handed to the flusher it had a copy of, it
 * waited for ever for one the child did not have). */
#include "common.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

static void *kept;

int main(void)
{
    kept = hide(malloc(100));
    long child = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (child == 0) {
        kept = forget(malloc(300));
        /* With a flusher of its own now, a thread glibc lists: setgid signals every thread
         * listed (a flusher on its parent's flusher's stack was listed twice, and setgid went
         * round the list for ever). */
        if (setgid(getgid()) != 0)
            _exit(95);
        say("LEAKED %p %ld\n", hide(kept), (long)syscall(SYS_getpid));
        exit(7);
    }
    int status;
    if (child < 0 || waitpid((pid_t)child, &status, 0) != child)
        return 98;
    say("CHILD %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return 0;
}
