/* sandboxed_fcntl.c: `sandboxed_fcntl fcntl|open`: a sandbox's seccomp filter, as Chromium's
 * baseline policy has it, allows fcntl only for a descriptor's flags (F_GETFD, F_SETFD,
 * F_GETFL, F_SETFL); with "open", openat is refused too. Leaks a block before the filter and
 * one after, with periodic flushes between (malloc_second_peremption=1), and says whether the
 * open descriptors stayed as many. The tracer took its trace for gone where it could not read
 * the descriptor's owner: it opened it again at every flush, a descriptor lost each time,
 * and lost the rows where the open was refused. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static void *kept[2];

/* Counted with F_GETFD, which the filter allows: /proc may not be opened. */
static int open_descriptors(void)
{
    int count = 0;
    for (int fd = 0; fd < 1024; fd++)
        count += fcntl(fd, F_GETFD) != -1;
    return count;
}

static void wait_for_malloc_row(void)
{
    static char text[1 << 16];
    const char *path = getenv("out_file_path");
    for (int tries = 0; path != NULL && tries < 200; tries++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t length = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (length > 0) {
            text[length] = '\0';
            if (strstr(text, "\nmalloc;") != NULL)
                return;
        }
        struct timespec pause = {0, 50000000L};
        nanosleep(&pause, NULL);
    }
}

__attribute__((noinline)) static void leak(int which, size_t size)
{
    void *block = malloc(size);
    expect("leak", block, (long)size, "malloc", "leak");
    kept[which] = hide(block);
}

int main(int argc, char **argv)
{
    int refuse_open = argc > 1 && strcmp(argv[1], "open") == 0;
    leak(0, 31);
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_fcntl, 0, 7),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, F_GETFD, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, F_SETFD, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, F_GETFL, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, F_SETFL, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 1),
        BPF_STMT(BPF_RET | BPF_K,
                 refuse_open ? SECCOMP_RET_ERRNO | EACCES : SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {sizeof filter / sizeof *filter, filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
        || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &program) != 0)
        return 99;
    /* Counted first once a flush has named the first block's stack (its malloc row is in
     * the trace): libdw keeps the modules it read open. With openat refused, it opens none. */
    if (!refuse_open)
        wait_for_malloc_row();
    int before = open_descriptors();
    for (int i = 0; i < 4; i++) {
        free(malloc(10));
        struct timespec pause = {0, 700000000L};
        nanosleep(&pause, NULL);
    }
    int after = open_descriptors();
    say(after == before ? "descriptors: as many\n" : "descriptors: %d, then %d\n", before, after);
    leak(1, 47);
    return 0;
}
