/* seccomp_kills_in_the_exit_pass.c: the main thread, the program's only one, installs a
 * seccomp filter that kills it at rt_sigaction, as sshd's child before authentication does
 * at any system call it does not expect, then returns from main. The exit pass makes that
 * call (to choose its stop signal): the main thread dies there, holding the flusher's lock,
 * and the process lived on for ever with the flusher alone.
 *
 * With the argument "freed", it frees its block first, and the filter covers every thread
 * (the flusher too: SECCOMP_FILTER_FLAG_TSYNC) and kills the process: with no block left,
 * the exit pass has nothing to scan and makes no such call. */
#include "common.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static void *kept;

int main(int argc, char **argv)
{
    bool freed = argc > 1 && strcmp(argv[1], "freed") == 0;
    kept = hide(malloc(19));
    if (freed)
        free(hide(kept));
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_rt_sigaction, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, freed ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_KILL_THREAD),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {sizeof filter / sizeof *filter, filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
        || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, freed ? SECCOMP_FILTER_FLAG_TSYNC : 0,
                   &program) != 0)
        return 99;
    say("filtered\n");
    return 0;
}
