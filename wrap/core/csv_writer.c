/* csv_writer.c: see csv_writer.h. */
#define _GNU_SOURCE
#include "csv_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "os.h"
#include "size_limit.h"

#define BATCH_BYTES (256u * 1024u)

static char path_template[PATH_MAX];
static uint64_t max_size;
static char path[PATH_MAX];
static int fd = -1;
static dev_t file_device;
static ino_t file_inode;
static bool file_marked; /* see holds_own_file */
static struct stat root_at_open; /* "/" when the file was opened: see csv_writer_begin */
static uint64_t file_size; /* as last seen plus what we wrote since */
static char batch[BATCH_BYTES];
static size_t batch_length;
/* The errno of the last message about opening the file, and about writing it: each failure
 * is said once, until that step works again (the rows may meanwhile go to the file held). */
static int open_error_said, write_error_said;
static bool oversized_row_said;

void csv_writer_expand_path(const char *template, pid_t pid, char *out, size_t out_size)
{
    size_t used = 0;
    for (const char *c = template; *c && used + 1 < out_size; c++) {
        if (c[0] == '%' && c[1] == 'p') {
            int n = snprintf(out + used, out_size - used, "%d", (int)pid);
            used += n > 0 ? (size_t)n : 0;
            if (used >= out_size)
                used = out_size - 1;
            c++;
        } else {
            out[used++] = *c;
        }
    }
    out[used] = '\0';
}

static void close_file(void);

void csv_writer_configure(const char *template, uint64_t max)
{
    close_file(); /* the next batch opens the file at the new path */
    snprintf(path_template, sizeof path_template, "%s", template);
    max_size = max;
}

/* "WHAT PATH: the error's text", once until the error changes. */
static void say_once(int *said, int error, const char *what)
{
    if (error == *said)
        return;
    *said = error;
    os_message("%s %s: %s", what, path, os_error_text(error));
}

/* The same for a refusal of the tracer's own (a link, a file of another kind or owner): it
 * is its own reason, and an error's text would only mislead. */
static void refuse_once(int *said, int error, const char *what)
{
    if (error != *said)
        os_message("%s %s", what, path);
    *said = error;
}

/* A program may close every descriptor it did not open (a daemon's start does), and its next
 * open is then handed our number: the descriptor is the program's from then on, and a write
 * to it would put rows in the program's file. So before each write, truncation or close, the
 * descriptor must still be the file opened; else it is forgotten, not closed, and the file
 * opened again. The device and inode alone do not tell: a file system hands a deleted file's
 * inode number to the next file made. So the open file is also marked, with the signal O_ASYNC
 * would send (F_SETSIG), which a program's own open has not: 0. Nothing is sent without
 * O_ASYNC, and SIGIO is what would be sent anyway. The mark belongs to the open file, so a
 * forked child that shares it sees it as long as the file is open: an owner (F_SETOWN), the
 * mark before, read 0 once the process that opened the file had exited, and an nginx worker
 * that had dropped its privileges took its trace for gone, could not open it again, and lost
 * every row. Where the mark cannot be read (a sandbox's seccomp filter that allows fcntl only
 * for the descriptor's flags), device and inode alone tell: taken for gone, the file was
 * opened again at every flush, a descriptor lost each time, and the rows were lost where the
 * sandbox refused the open too. */
#define FILE_MARK_SIGNAL SIGIO

static bool holds_own_file(struct stat *status)
{
    if (fd < 0)
        return false;
    int mark;
    if (fstat(fd, status) != 0 || status->st_dev != file_device || status->st_ino != file_inode
        || (file_marked && (mark = fcntl(fd, F_GETSIG)) != -1 && mark != FILE_MARK_SIGNAL))
        fd = -1;
    return fd >= 0;
}

/* Another process appending to the same file (a forked child) may still take the room
 * between size_limit_room and the write: the write then raises no SIGXFSZ. */
static ssize_t write_without_sigxfsz(const void *data, size_t length)
{
    sigset_t previous;
    size_limit_hold(&previous);
    ssize_t written = write(fd, data, length);
    size_limit_release(&previous, written < 0 && errno == EFBIG);
    return written;
}

static bool open_file(void);

/* The data's last `done` bytes went to the file and end inside a line: cut the file back to
 * the last whole line, so that no reader sees a cut row. */
static void cut_back_to_whole_line(const char *data, size_t done)
{
    size_t whole = done;
    while (whole > 0 && data[whole - 1] != '\n')
        whole--;
    struct stat status;
    size_t cut = done - whole;
    if (cut > 0 && fstat(fd, &status) == 0 && (uint64_t)status.st_size >= cut
        && ftruncate(fd, status.st_size - (off_t)cut) == 0)
        file_size = (uint64_t)status.st_size - cut;
}

static bool write_all(const char *data, size_t length)
{
    struct stat status;
    if (!holds_own_file(&status) && !open_file())
        return false;
    size_t done = 0;
    while (done < length) {
        size_t room = size_limit_room(fd);
        size_t wanted = length - done < room ? length - done : room;
        ssize_t written = -1;
        errno = EFBIG;
        if (wanted > 0)
            written = write_without_sigxfsz(data + done, wanted);
        if (written > 0) {
            done += (size_t)written;
            file_size += (uint64_t)written;
            continue;
        }
        if (written < 0 && errno == EINTR)
            continue;
        /* A short write said nothing of why: the write of the rest that fails says it (a
         * full disk), or the limit does. */
        int error = written < 0 ? errno : ENOSPC;
        cut_back_to_whole_line(data, done);
        say_once(&write_error_said, error, done > 0 ? "cannot write all of" : "cannot write");
        return false;
    }
    write_error_said = 0;
    return true;
}

/* Processes that write to one path take turns on it, under a lock on the whole file, for
 * what depends on its size: processes that start together each found it empty and each wrote
 * a header (a second header line, which readers refuse: 1 to 4 rounds in 40 of 100 processes
 * started at once), and processes that flushed together each found room for their rows under
 * out_file_max_size (six processes at once left 2,893 bytes under a limit of 1,024). A record
 * lock (fcntl), not flock: a forked child that shares its parent's descriptor would share an
 * flock with it. Where the file system has no locks, the same without. */
static bool lock_file(void)
{
    struct flock whole = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    while (fcntl(fd, F_SETLKW, &whole) != 0)
        if (errno != EINTR)
            return false;
    return true;
}

static void unlock_file(void)
{
    struct flock whole = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    fcntl(fd, F_SETLK, &whole);
}

/* Writes the header where the file is empty (emptied first when truncate: the size limit);
 * the caller holds the lock. */
static bool write_header_locked(bool truncate)
{
    struct stat status;
    if (truncate && ftruncate(fd, 0) != 0) {
        say_once(&write_error_said, errno, "cannot truncate");
        return false;
    }
    if (!truncate && fstat(fd, &status) == 0 && status.st_size > 0) {
        file_size = (uint64_t)status.st_size; /* another process wrote it */
        return true;
    }
    file_size = 0;
    return write_all(CSV_HEADER, sizeof CSV_HEADER - 1);
}

static bool write_header_once(void)
{
    bool locked = lock_file();
    bool written = write_header_locked(false);
    if (locked)
        unlock_file();
    return written;
}

/* Appends whole rows, truncating the file first when they would pass out_file_max_size at
 * its size now, which other processes may have changed since the rows were put together. */
static void append_rows(const char *rows, size_t length)
{
    struct stat status;
    if (!holds_own_file(&status) && !open_file())
        return;
    bool locked = lock_file();
    if (fstat(fd, &status) == 0)
        file_size = (uint64_t)status.st_size;
    if (file_size + length <= max_size || write_header_locked(true))
        write_all(rows, length);
    if (locked)
        unlock_file();
}

static void close_file(void)
{
    struct stat status;
    if (holds_own_file(&status))
        close(fd);
    fd = -1;
}

static bool open_file(void)
{
    csv_writer_expand_path(path_template, getpid(), path, sizeof path);
    /* O_NONBLOCK: opening a FIFO for writing would otherwise wait for a reader. */
    int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
    bool created = true;
    int new_fd = open(path, flags | O_CREAT | O_EXCL, 0600);
    if (new_fd < 0 && errno == EEXIST) {
        created = false;
        new_fd = open(path, flags);
    }
    if (new_fd < 0) {
        /* ENXIO: a FIFO (or socket) with no reader; ELOOP: O_NOFOLLOW met a symbolic link. */
        if (errno == ELOOP)
            refuse_once(&open_error_said, errno, "refusing to follow a symbolic link at");
        else if (errno == ENXIO)
            refuse_once(&open_error_said, errno, "not a regular file, not writing to");
        else
            say_once(&open_error_said, errno, "cannot open");
        return false;
    }
    struct stat status;
    if (fstat(new_fd, &status) != 0 || !S_ISREG(status.st_mode)) {
        close(new_fd);
        refuse_once(&open_error_said, EINVAL, "not a regular file, not writing to");
        return false;
    }
    if (status.st_uid != geteuid()) {
        close(new_fd);
        refuse_once(&open_error_said, EPERM, "owned by another user, not writing to");
        return false;
    }
    fcntl(new_fd, F_SETFL, O_WRONLY | O_APPEND);
    if (created)
        fchmod(new_fd, 0600); /* whatever the umask took away: the owner reads it */
    if (stat("/", &root_at_open) != 0)
        memset(&root_at_open, 0, sizeof root_at_open);
    /* A program started with stdin, stdout or stderr closed: the file must not take their
     * numbers, or the program's own output would go into it. */
    if (new_fd <= STDERR_FILENO) {
        int high = fcntl(new_fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
        close(new_fd);
        if (high < 0) {
            say_once(&open_error_said, errno, "cannot open");
            return false;
        }
        new_fd = high;
    }
    file_marked = fcntl(new_fd, F_SETSIG, FILE_MARK_SIGNAL) == 0; /* else device and inode */
    open_error_said = 0;
    fd = new_fd;
    file_device = status.st_dev;
    file_inode = status.st_ino;
    file_size = (uint64_t)status.st_size;
    if (created || status.st_size == 0)
        return write_header_once();
    return true;
}

bool csv_writer_begin(void)
{
    batch_length = 0;
    struct stat open_one;
    if (holds_own_file(&open_one)) {
        /* A path the program may no longer look up (it dropped its privileges, or went
         * into a chroot, where the path leads elsewhere or nowhere) is no sign of a move:
         * the file held stays. */
        struct stat at_path, root;
        bool same_root = stat("/", &root) == 0 && root.st_dev == root_at_open.st_dev
                         && root.st_ino == root_at_open.st_ino;
        bool moved = !same_root ? false
                     : stat(path, &at_path) == 0
                         ? at_path.st_dev != file_device || at_path.st_ino != file_inode
                         : errno == ENOENT || errno == ENOTDIR;
        if (moved) {
            /* Moved or deleted since the last batch: a new file at the path. Where none can
             * be opened there (the program went into a chroot, a symbolic link took its
             * place), the rows go on into the file held, while it has a name to be read
             * by. */
            int held = fd;
            dev_t held_device = file_device;
            ino_t held_inode = file_inode;
            bool held_marked = file_marked;
            fd = -1;
            bool opened = open_file();
            if (fd >= 0 || open_one.st_nlink == 0) {
                close(held);
                return opened;
            }
            fd = held;
            file_device = held_device;
            file_inode = held_inode;
            file_marked = held_marked;
            file_size = (uint64_t)open_one.st_size;
            return true;
        } else {
            file_size = (uint64_t)open_one.st_size;
            /* Emptied in place (`: > file`, logrotate's copytruncate): a new header. */
            if (file_size == 0)
                return write_header_once();
        }
    }
    return fd >= 0 || open_file();
}

static void flush_batch(void)
{
    if (batch_length > 0 && fd >= 0)
        append_rows(batch, batch_length);
    batch_length = 0;
}

/* Ends the batch where a row of length bytes would take the file past the limit: the next
 * batch then starts a fresh file (append_rows decides, at the file's size then). False when
 * the row cannot fit even in a fresh file. */
static bool make_room(size_t length)
{
    if (file_size + batch_length + length <= max_size)
        return true;
    flush_batch();
    if (sizeof CSV_HEADER - 1 + length > max_size) {
        if (!oversized_row_said) {
            oversized_row_said = true;
            os_message("a row of %zu bytes cannot fit in out_file_max_size (%llu bytes): "
                       "such rows are dropped", length, (unsigned long long)max_size);
        }
        return false;
    }
    file_size = sizeof CSV_HEADER - 1;
    return true;
}

/* The row's bytes (no terminating NUL: rows are byte ranges written as they are). */
static void assemble_row(char *out, const char *head, size_t head_length, const char *frame0,
                         const char *frames)
{
    const char *pieces[] = {head, frame0, frames, "]\n"};
    size_t lengths[] = {head_length, strlen(frame0), strlen(frames), 2};
    for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
        memcpy(out, pieces[i], lengths[i]); // NOLINT(bugprone-not-null-terminated-result)
        out += lengths[i];
    }
}

void csv_writer_row(const char *function, pid_t thread_id, uintptr_t address, uint64_t size,
                    uint64_t time_ms, const char *frame0, const char *callstack_frames)
{
    if (fd < 0)
        return;
    char head[512];
    int head_length = snprintf(head, sizeof head, "%s;%d;0x%llx;%llu;%llu;[", function,
                               (int)thread_id, (unsigned long long)address,
                               (unsigned long long)size, (unsigned long long)time_ms);
    size_t length = (size_t)head_length + strlen(frame0) + strlen(callstack_frames) + 2;
    if (!make_room(length))
        return;
    if (batch_length + length > sizeof batch)
        flush_batch();
    if (length > sizeof batch) {
        /* Longer than a batch (a very deep stack): still one write(2) of its own. */
        char *big = os_map(length);
        if (big == NULL)
            return;
        assemble_row(big, head, (size_t)head_length, frame0, callstack_frames);
        append_rows(big, length);
        os_unmap(big, length);
        return;
    }
    assemble_row(batch + batch_length, head, (size_t)head_length, frame0, callstack_frames);
    batch_length += length;
}

void csv_writer_end(void)
{
    flush_batch();
}

void csv_writer_keep(uid_t user, gid_t group)
{
    if (!csv_writer_begin())
        return;
    if (strstr(path_template, "%p") != NULL && (user != (uid_t)-1 || group != (gid_t)-1))
        (void)fchown(fd, user, group);
}

void csv_writer_settle_owner(void)
{
    struct stat status;
    if (strstr(path_template, "%p") == NULL || !holds_own_file(&status))
        return;
    uid_t user = geteuid();
    gid_t group = getegid();
    if (status.st_uid != user || status.st_gid != group)
        (void)fchown(fd, user, group);
}

void csv_writer_reset_in_child(void)
{
    /* Without %p both processes append to one file: the child goes on with the descriptor
     * it shares with its parent, which it might not be allowed to open again (after the
     * parent dropped its privileges, say). */
    if (strstr(path_template, "%p") != NULL)
        close_file();
    batch_length = 0;
}
