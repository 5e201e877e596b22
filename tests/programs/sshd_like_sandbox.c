/* sshd_like_sandbox.c: OpenSSH's pre-authentication sandbox on the main thread, the
 * program's only one: a seccomp filter that lets through the system calls sshd's child makes
 * (futex only for waits and wakes; mmap only private and anonymous), refuses a few (open,
 * stat) with EACCES, and kills the thread at any other; with "limits", also sshd's limits:
 * no new descriptor (RLIMIT_NOFILE 1) and no byte written to a file (RLIMIT_FSIZE 0). Then
 * it allocates and frees under the filter and returns from main with two blocks leaked,
 * one from before the filter and one from under it. The exit pass made calls the filter
 * kills (rt_sigaction, tgkill, fcntl): the process ended by SIGSYS, its rows lost. */
#include "common.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#define LOAD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define ALLOW(nr)                                                                            \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define DENY(nr, error)                                                                      \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),                                         \
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (error))
/* The call nr when its argument arg, less the bits of mask, equals value (low words). */
#define ALLOW_ARG_MASKED(nr, arg, mask, value)                                               \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 4),                                         \
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[(arg)])),      \
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~(uint32_t)(mask)),                              \
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (value), 0, 1),                                  \
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW), LOAD_NR
#define FUTEX_OP(op) ALLOW_ARG_MASKED(SYS_futex, 1, FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME, op)

static void *before, *after;

int main(int argc, char **argv)
{
    before = forget(malloc(19));
    struct sock_filter filter[] = {
        LOAD_NR,
        DENY(SYS_open, EACCES),
        DENY(SYS_openat, EACCES),
        DENY(SYS_stat, EACCES),
        DENY(SYS_lstat, EACCES),
        DENY(SYS_fstat, EACCES),
        DENY(SYS_newfstatat, EACCES),
        DENY(SYS_statx, EACCES),
        ALLOW(SYS_brk),
        ALLOW(SYS_clock_gettime),
        ALLOW(SYS_close),
        ALLOW(SYS_exit),
        ALLOW(SYS_exit_group),
        FUTEX_OP(FUTEX_WAIT),
        FUTEX_OP(FUTEX_WAIT_BITSET),
        FUTEX_OP(FUTEX_WAKE),
        FUTEX_OP(FUTEX_WAKE_BITSET),
        FUTEX_OP(FUTEX_REQUEUE),
        FUTEX_OP(FUTEX_CMP_REQUEUE),
        ALLOW(SYS_getpid),
        ALLOW(SYS_getrandom),
        ALLOW(SYS_gettid),
        ALLOW(SYS_gettimeofday),
        ALLOW(SYS_madvise),
        ALLOW_ARG_MASKED(SYS_mmap, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, 0),
        ALLOW(SYS_mprotect),
        ALLOW(SYS_mremap),
        ALLOW(SYS_munmap),
        ALLOW(SYS_nanosleep),
        ALLOW(SYS_clock_nanosleep),
        ALLOW(SYS_poll),
        ALLOW(SYS_ppoll),
        ALLOW(SYS_read),
        ALLOW(SYS_rt_sigprocmask),
        ALLOW(SYS_write),
        ALLOW(SYS_writev),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_THREAD),
    };
    struct sock_fprog program = {sizeof filter / sizeof *filter, filter};
    if (argc > 1 && strcmp(argv[1], "limits") == 0) {
        struct rlimit one = {1, 1}, none = {0, 0};
        if (setrlimit(RLIMIT_NOFILE, &one) != 0 || setrlimit(RLIMIT_FSIZE, &none) != 0)
            return 98;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
        || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0)
        return 99;
    void *blocks[1000];
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 1000; i++)
            blocks[i] = malloc((size_t)(16 + (i * 37 + round) % 4000));
        for (int i = 0; i < 1000; i++)
            free(blocks[i]);
    }
    after = forget(malloc(23));
    say("filtered\n");
    expect("leak", hide(before), 19, "malloc", "~main");
    expect("leak", hide(after), 23, "malloc", "~main");
    return 0;
}
