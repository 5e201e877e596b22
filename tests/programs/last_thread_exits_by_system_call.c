/* last_thread_exits_by_system_call.c: main, the only thread, leaks a block and ends with the
 * exit system call (status 7), as a program under seccomp's strict mode must: the process
 * ends there untraced, and the tracer's flusher thread kept it alive for ever. */
#include "common.h"

#include <stdlib.h>
#include <sys/syscall.h>

static void *kept;

int main(void)
{
    kept = hide(malloc(55));
    say("ending\n");
    syscall(SYS_exit, 7);
    return 1;
}
