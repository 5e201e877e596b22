/* proc_self.c: see proc_self.h. */
#define _GNU_SOURCE
#include "proc_self.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int held = -1;
static dev_t held_device;
static ino_t held_inode;

static int open_at(int directory, const char *path, int flags)
{
    int saved = errno;
    int fd = (int)syscall(SYS_openat, directory, path, flags | O_CLOEXEC);
    errno = saved;
    return fd;
}

/* A program may close every descriptor it did not open, and its next open is then handed
 * the number: the descriptor is still the one taken only while it names the same file. */
static bool still_held(void)
{
    int saved = errno;
    struct stat status;
    bool same = held >= 0 && syscall(SYS_fstat, held, &status) == 0
                && status.st_dev == held_device && status.st_ino == held_inode;
    errno = saved;
    return same;
}

void proc_self_hold(void)
{
    int inherited = still_held() ? held : -1;
    held = open_at(AT_FDCWD, "/proc/self", O_PATH | O_DIRECTORY);
    int saved = errno;
    if (held < 0 && inherited >= 0) {
        /* A child forked in the chroot: its own directory is beside its parent's, and ".."
         * of a directory outside the root leads up as anywhere else. */
        char sibling[32];
        snprintf(sibling, sizeof sibling, "../%d", (int)syscall(SYS_getpid));
        held = open_at(inherited, sibling, O_PATH | O_DIRECTORY);
    }
    if (inherited >= 0)
        syscall(SYS_close, inherited);
    /* A program started with stdin, stdout or stderr closed: the descriptor must not take
     * their numbers, which the program's next open expects. */
    if (held >= 0 && held <= STDERR_FILENO) {
        int high = (int)syscall(SYS_fcntl, held, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
        syscall(SYS_close, held);
        held = high;
    }
    struct stat status;
    if (held >= 0 && syscall(SYS_fstat, held, &status) == 0) {
        held_device = status.st_dev;
        held_inode = status.st_ino;
    } else if (held >= 0) {
        syscall(SYS_close, held);
        held = -1;
    }
    errno = saved;
}

void proc_self_keep(void)
{
    if (!still_held())
        proc_self_hold();
}

int proc_self_open(const char *path, int flags)
{
    int fd = open_at(AT_FDCWD, path, O_RDONLY | flags);
    if (fd >= 0)
        return fd;
    static const char self[] = "/proc/self/", thread_self[] = "/proc/thread-self/";
    const char *relative = strncmp(path, self, sizeof self - 1) == 0 ? path + sizeof self - 1
                           : strncmp(path, thread_self, sizeof thread_self - 1) == 0
                               ? path + sizeof thread_self - 1
                               : NULL;
    if (relative == NULL || !still_held())
        return -1;
    return open_at(held, relative, O_RDONLY | flags);
}
