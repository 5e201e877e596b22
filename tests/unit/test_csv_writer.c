/* test_csv_writer.c: the output file of CONTRACT section 5 (csv_writer.h), against real
 * files in a mkdtemp directory.
 *
 * The writer keeps static state, and the tracer's constructor has already opened its own
 * file with it: each scenario configures its own path, which closes whatever is open. At the end the
 * tracer's configuration is restored, so that its exit pass writes where it would have.
 * The flush lock is held meanwhile, so that the tracer's flusher thread never uses the
 * writer at the same time. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "csv_writer.h"
#include "flusher.h"
#include "settings.h"

static char dir[] = "/tmp/malloc-trace-unit-XXXXXX";

/* ---- helpers -------------------------------------------------------------------------- */

static const char *in_dir(const char *name, char *out)
{
    snprintf(out, PATH_MAX, "%s/%s", dir, name);
    return out;
}

/* The whole file (malloc'd), or NULL when it cannot be read. */
static char *read_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    struct stat status;
    if (fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
        close(fd);
        return NULL;
    }
    char *text = malloc((size_t)status.st_size + 1);
    size_t got = 0;
    ssize_t n;
    while (text != NULL && (n = read(fd, text + got, (size_t)status.st_size - got)) > 0)
        got += (size_t)n;
    close(fd);
    if (text != NULL)
        text[got] = '\0';
    return text;
}

static bool write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return false;
    size_t length = strlen(text);
    bool ok = write(fd, text, length) == (ssize_t)length;
    fchmod(fd, mode);
    close(fd);
    return ok;
}

static void check_file(const char *path, const char *expected, int line)
{
    char *text = read_file(path);
    check_str(text, expected, false, path, "expected", __FILE__, line);
    free(text);
}
#define CHECK_FILE(path, expected) check_file(path, expected, __LINE__)

static void scenario(const char *path_template, uint64_t max_size)
{
    csv_writer_reset_in_child();
    csv_writer_configure(path_template, max_size);
}

#define FRAME0 "{\"f\":\"malloc\"}"
#define FRAMES ",{\"f\":\"x\"}"

/* The row of the brief: leak;42;ADDRESS;10;1700000000000;[{"f":"malloc"},{"f":"x"}] */
static void write_row(uintptr_t address)
{
    csv_writer_row("leak", 42, address, 10, 1700000000000ull, FRAME0, FRAMES);
}

static const char *row_text(uintptr_t address, char *out, size_t out_size)
{
    snprintf(out, out_size, "leak;42;0x%llx;10;1700000000000;[" FRAME0 FRAMES "]\n",
             (unsigned long long)address);
    return out;
}

/* Appends to a growing expected text. The capacity doubles: a realloc per row copies the
 * whole text each time, which AddressSanitizer's realloc (never in place) makes take
 * minutes for test_many_rows. */
struct text {
    char *data;
    size_t length;
    size_t capacity;
};
static void text_add(struct text *text, const char *more)
{
    size_t length = strlen(more);
    if (text->length + length + 1 > text->capacity) {
        size_t capacity = text->capacity ? text->capacity : 4096;
        while (capacity < text->length + length + 1)
            capacity *= 2;
        char *data = realloc(text->data, capacity);
        if (data == NULL) {
            perror("text_add");
            exit(2);
        }
        text->data = data;
        text->capacity = capacity;
    }
    memcpy(text->data + text->length, more, length + 1);
    text->length += length;
}

/* ---- csv_writer_expand_path ------------------------------------------------------------ */

static void check_expand(const char *template, pid_t pid, size_t out_size, const char *expected,
                         int line)
{
    char out[300];
    memset(out, 'Z', sizeof out);
    csv_writer_expand_path(template, pid, out, out_size);
    check_str(out, expected, false, template, expected, __FILE__, line);
    /* Nothing written past out_size. */
    bool untouched = true;
    for (size_t i = out_size; i < sizeof out; i++)
        untouched &= out[i] == 'Z';
    check_true(untouched, "nothing written past out_size", __FILE__, line);
}
#define CHECK_EXPAND(template, pid, out_size, expected) \
    check_expand(template, pid, out_size, expected, __LINE__)

static void test_expand_path(void)
{
    CHECK_EXPAND("/tmp/trace-%p.csv", 1234, 256, "/tmp/trace-1234.csv");
    CHECK_EXPAND("%p", 7, 256, "7");
    CHECK_EXPAND("%p-%p/%p.%p", 4194304, 256, "4194304-4194304/4194304.4194304");
    CHECK_EXPAND("/tmp/plain.csv", 99, 256, "/tmp/plain.csv");
    CHECK_EXPAND("", 99, 256, "");
    CHECK_EXPAND("100%", 5, 256, "100%");   /* a lone % at the end */
    CHECK_EXPAND("%x%p%", 5, 256, "%x5%"); /* only %p is special */
    CHECK_EXPAND("%P", 5, 256, "%P");
    CHECK_EXPAND("%%p", 5, 256, "%5");

    /* Truncation: out_size - 1 bytes and the NUL, also in the middle of a pid. */
    CHECK_EXPAND("/tmp/trace-%p.csv", 4242, 10, "/tmp/trac");
    CHECK_EXPAND("/tmp/trace-%p.csv", 4242, 12, "/tmp/trace-");
    CHECK_EXPAND("/tmp/trace-%p.csv", 4242, 14, "/tmp/trace-42");
    CHECK_EXPAND("/tmp/trace-%p.csv", 4242, 16, "/tmp/trace-4242");
    CHECK_EXPAND("/tmp/trace-%p.csv", 4242, 17, "/tmp/trace-4242.");
    CHECK_EXPAND("/tmp/trace-%p.csv", 4242, 20, "/tmp/trace-4242.csv");
    CHECK_EXPAND("ab%p", 123456, 5, "ab12");
    CHECK_EXPAND("%p%p", 123, 5, "1231");
    CHECK_EXPAND("abc", 1, 1, "");
    CHECK_EXPAND("%p", 123, 1, "");
    CHECK_EXPAND("abc", 1, 4, "abc");
    CHECK_EXPAND("abcd", 1, 4, "abc");
}

/* ---- writing ---------------------------------------------------------------------------- */

static void test_create(void)
{
    char path[PATH_MAX], expected[512], row[256];
    scenario(in_dir("create.csv", path), 1u << 20);
    mode_t umask_before = umask(0277); /* 0600 all the same */
    CHECK_TRUE(csv_writer_begin());
    umask(umask_before);

    /* Created at begin, with the header only, 0600, ours. */
    struct stat status;
    if (CHECK_EQ_I64(lstat(path, &status), 0)) {
        CHECK(S_ISREG(status.st_mode));
        CHECK_EQ_U64(status.st_mode & 07777, 0600);
        CHECK_EQ_U64(status.st_uid, geteuid());
    }
    CHECK_FILE(path, CSV_HEADER);
    CHECK_EQ_STR(CSV_HEADER, "function;thread_id;address;size;timestamp_ms;callstack\n");
    csv_writer_end();
    CHECK_FILE(path, "function;thread_id;address;size;timestamp_ms;callstack\n");

    CHECK_TRUE(csv_writer_begin());
    write_row(0x1234);
    csv_writer_end();
    CHECK_EQ_STR(row_text(0x1234, row, sizeof row),
                 "leak;42;0x1234;10;1700000000000;[{\"f\":\"malloc\"},{\"f\":\"x\"}]\n");
    CHECK_FILE(path, "function;thread_id;address;size;timestamp_ms;callstack\n"
                     "leak;42;0x1234;10;1700000000000;[{\"f\":\"malloc\"},{\"f\":\"x\"}]\n");

    /* Other values, each batch appended to the last. */
    CHECK_TRUE(csv_writer_begin());
    csv_writer_row("malloc", 1, 0, 0, 0, "{}", "");
    csv_writer_row("free", -1, UINTPTR_MAX, UINT64_MAX, UINT64_MAX, "{\"f\":\"free\"}",
                   ",{\"a\":1},{\"b\":2}");
    csv_writer_end();
    snprintf(expected, sizeof expected,
             "%s%s"
             "malloc;1;0x0;0;0;[{}]\n"
             "free;-1;0xffffffffffffffff;18446744073709551615;18446744073709551615;"
             "[{\"f\":\"free\"},{\"a\":1},{\"b\":2}]\n",
             CSV_HEADER, row);
    CHECK_FILE(path, expected);

    /* A batch with no row adds nothing. */
    CHECK_TRUE(csv_writer_begin());
    csv_writer_end();
    CHECK_FILE(path, expected);
}

static void test_many_rows(void)
{
    char path[PATH_MAX], row[256];
    scenario(in_dir("many.csv", path), 1u << 30);
    struct text expected = {0};
    text_add(&expected, CSV_HEADER);

    /* 12000 rows of about 60 bytes in one batch: past the 256 KiB batch buffer. */
    CHECK_TRUE(csv_writer_begin());
    for (uintptr_t i = 0; i < 12000; i++) {
        write_row(0x100000 + 16 * i);
        text_add(&expected, row_text(0x100000 + 16 * i, row, sizeof row));
    }
    csv_writer_end();
    CHECK_FILE(path, expected.data);

    /* A row longer than the batch buffer, between two small ones: order kept. */
    size_t big_length = 300000;
    char *big = malloc(big_length + 1);
    memset(big, 'q', big_length);
    big[0] = ',';
    big[big_length] = '\0';
    CHECK_TRUE(csv_writer_begin());
    write_row(0xa);
    csv_writer_row("leak", 7, 0xb, 1, 2, FRAME0, big);
    write_row(0xc);
    csv_writer_end();
    text_add(&expected, row_text(0xa, row, sizeof row));
    text_add(&expected, "leak;7;0xb;1;2;[" FRAME0);
    text_add(&expected, big);
    text_add(&expected, "]\n");
    text_add(&expected, row_text(0xc, row, sizeof row));
    CHECK_FILE(path, expected.data);
    free(big);
    free(expected.data);
}

static void test_existing_file(void)
{
    char path[PATH_MAX], expected[512], row[256];
    const char *old = CSV_HEADER "malloc;1;0x10;8;5;[{}]\n";

    /* Ours, not empty: appended to, no second header, its mode left alone. */
    in_dir("existing.csv", path);
    CHECK(write_file(path, old, 0644));
    scenario(path, 1u << 20);
    CHECK_TRUE(csv_writer_begin());
    write_row(0x99);
    csv_writer_end();
    snprintf(expected, sizeof expected, "%s%s", old, row_text(0x99, row, sizeof row));
    CHECK_FILE(path, expected);
    struct stat status;
    if (CHECK_EQ_I64(stat(path, &status), 0))
        CHECK_EQ_U64(status.st_mode & 07777, 0644);

    /* Ours and empty: it gets the header. */
    in_dir("empty.csv", path);
    CHECK(write_file(path, "", 0600));
    scenario(path, 1u << 20);
    CHECK_TRUE(csv_writer_begin());
    write_row(0x98);
    csv_writer_end();
    snprintf(expected, sizeof expected, "%s%s", CSV_HEADER, row_text(0x98, row, sizeof row));
    CHECK_FILE(path, expected);
}

static void test_moved_or_deleted(void)
{
    char path[PATH_MAX], moved[PATH_MAX], expected[512], row[256];
    scenario(in_dir("moving.csv", path), 1u << 20);
    in_dir("moving.csv.1", moved);

    CHECK_TRUE(csv_writer_begin());
    write_row(0xa1);
    csv_writer_end();
    CHECK_EQ_I64(rename(path, moved), 0);

    /* The next batch starts a new file at the path; the moved one keeps what it had. */
    CHECK_TRUE(csv_writer_begin());
    write_row(0xb2);
    csv_writer_end();
    snprintf(expected, sizeof expected, "%s%s", CSV_HEADER, row_text(0xa1, row, sizeof row));
    CHECK_FILE(moved, expected);
    snprintf(expected, sizeof expected, "%s%s", CSV_HEADER, row_text(0xb2, row, sizeof row));
    CHECK_FILE(path, expected);
    struct stat status;
    if (CHECK_EQ_I64(stat(path, &status), 0))
        CHECK_EQ_U64(status.st_mode & 07777, 0600);

    /* Deleted: the same. */
    CHECK_EQ_I64(unlink(path), 0);
    CHECK_TRUE(csv_writer_begin());
    write_row(0xc3);
    csv_writer_end();
    snprintf(expected, sizeof expected, "%s%s", CSV_HEADER, row_text(0xc3, row, sizeof row));
    CHECK_FILE(path, expected);

    /* Moved and another regular file put in its place: that one is appended to. */
    CHECK_EQ_I64(rename(path, moved), 0);
    const char *other = CSV_HEADER "free;3;0x1;0;1;[{}]\n";
    CHECK(write_file(path, other, 0600));
    CHECK_TRUE(csv_writer_begin());
    write_row(0xd4);
    csv_writer_end();
    snprintf(expected, sizeof expected, "%s%s", other, row_text(0xd4, row, sizeof row));
    CHECK_FILE(path, expected);
    snprintf(expected, sizeof expected, "%s%s", CSV_HEADER, row_text(0xc3, row, sizeof row));
    CHECK_FILE(moved, expected);
}

static void test_pid_in_path(void)
{
    char path[PATH_MAX], expanded[PATH_MAX], name[64];
    scenario(in_dir("trace-%p.csv", path), 1u << 20);
    CHECK_TRUE(csv_writer_begin());
    csv_writer_end();
    snprintf(name, sizeof name, "trace-%d.csv", (int)getpid());
    CHECK_FILE(in_dir(name, expanded), CSV_HEADER);
    CHECK_EQ_I64(access(path, F_OK), -1); /* no file named with a literal %p */
}

/* The truncation rule: a row that would take the file past max_size empties it first
 * (header kept); a row that cannot fit even then is dropped. */
static void model_add(struct text *model, const char *row, uint64_t max_size)
{
    size_t length = strlen(row);
    if (model->length + length <= max_size) {
        text_add(model, row);
    } else if (strlen(CSV_HEADER) + length <= max_size) {
        model->length = 0;
        model->data[0] = '\0';
        text_add(model, CSV_HEADER);
        text_add(model, row);
    }
}

static void test_truncation(void)
{
    char path[PATH_MAX], row[256];
    const uint64_t max_size = 200;
    scenario(in_dir("small.csv", path), max_size);
    struct text model = {0};
    text_add(&model, CSV_HEADER);
    CHECK_EQ_U64(strlen(CSV_HEADER) + 2 * strlen(row_text(0x1, row, sizeof row)), 167);

    unsigned mismatches = 0, too_big = 0, truncations = 0;
    uintptr_t address = 0x1000;
    for (unsigned batch = 0; batch < 20; batch++) {
        if (!CHECK_TRUE(csv_writer_begin()))
            break;
        unsigned rows = 1 + batch % 4; /* one to four rows per batch */
        for (unsigned r = 0; r < rows; r++, address += 0x10) {
            size_t before = model.length;
            write_row(address);
            model_add(&model, row_text(address, row, sizeof row), max_size);
            truncations += model.length < before;
        }
        csv_writer_end();
        char *text = read_file(path);
        if (text == NULL || strcmp(text, model.data) != 0) {
            if (mismatches++ == 0)
                CHECK_EQ_STR(text, model.data);
        }
        if (text != NULL) {
            too_big += strlen(text) > max_size;
            CHECK_PREFIX(text, CSV_HEADER);
        }
        free(text);
    }
    CHECK_EQ_U64(mismatches, 0);
    CHECK_EQ_U64(too_big, 0);
    CHECK_GE_U64(truncations, 10); /* the limit was reached again and again */

    struct stat status;
    if (CHECK_EQ_I64(stat(path, &status), 0))
        CHECK_LE_U64((uint64_t)status.st_size, max_size);
    free(model.data);
}

static void test_oversized_row(void)
{
    char path[PATH_MAX], expected[512], row[256], frames[200];
    memset(frames, 'w', sizeof frames - 1);
    frames[0] = ',';
    frames[sizeof frames - 1] = '\0';
    scenario(in_dir("oversized.csv", path), 150);

    /* Header + this row > 150 bytes: dropped, said once. */
    struct stderr_capture capture;
    check_stderr_begin(&capture);
    CHECK_TRUE(csv_writer_begin());
    csv_writer_row("leak", 1, 0x10, 1, 1, FRAME0, frames);
    write_row(0x20); /* fits: written */
    csv_writer_row("leak", 1, 0x30, 1, 1, FRAME0, frames);
    csv_writer_end();
    char *messages = check_stderr_end(&capture);
    snprintf(expected, sizeof expected, "%s%s", CSV_HEADER, row_text(0x20, row, sizeof row));
    CHECK_FILE(path, expected);
    CHECK_EQ_U64(check_count_lines(messages), 1);
    CHECK_PREFIX(messages, "malloc-trace: a row of 232 bytes cannot fit in out_file_max_size "
                           "(150 bytes)");
    free(messages);
}

/* ---- refusals ----------------------------------------------------------------------------- */

/* begin on the configured path fails, with the given number of stderr lines, the first
 * one starting with "malloc-trace: " and holding needle; rows and end then write nothing. */
static void expect_refused(unsigned lines, const char *needle, int line)
{
    struct stderr_capture capture;
    check_stderr_begin(&capture);
    bool begun = csv_writer_begin();
    write_row(0xbad);
    csv_writer_end();
    char *messages = check_stderr_end(&capture);
    check_u64(begun, 0, CHECK_EQ, "csv_writer_begin()", "false", __FILE__, line);
    check_u64(check_count_lines(messages), lines, CHECK_EQ, "message lines", "expected",
              __FILE__, line);
    if (lines > 0) {
        check_str(messages, "malloc-trace: ", true, "message", "prefix", __FILE__, line);
        check_contains(messages, needle, "message", needle, __FILE__, line);
    }
    free(messages);
}
#define EXPECT_REFUSED(lines, prefix) expect_refused(lines, prefix, __LINE__)

static void test_refusals(void)
{
    char path[PATH_MAX], target[PATH_MAX], message[PATH_MAX + 128], expected[512], row[256];
    const char *precious = "precious, not a trace\n";

    /* A symbolic link to a file of ours: not followed, the file untouched. */
    in_dir("target.txt", target);
    CHECK(write_file(target, precious, 0600));
    in_dir("link.csv", path);
    CHECK_EQ_I64(symlink(target, path), 0);
    scenario(path, 1u << 20);
    /* The refusal is its own reason: no error's text after the path. */
    snprintf(message, sizeof message, "refusing to follow a symbolic link at %s\n", path);
    EXPECT_REFUSED(1, message);
    CHECK_FILE(target, precious);
    struct stat status;
    if (CHECK_EQ_I64(lstat(path, &status), 0))
        CHECK(S_ISLNK(status.st_mode));
    /* Still refused on the next batch, and not said again. */
    EXPECT_REFUSED(0, NULL);
    CHECK_FILE(target, precious);

    /* A dangling symbolic link: its target is not created (same error: not said again). */
    char missing[PATH_MAX];
    in_dir("missing-target.csv", missing);
    in_dir("dangling.csv", path);
    CHECK_EQ_I64(symlink(missing, path), 0);
    scenario(path, 1u << 20);
    EXPECT_REFUSED(0, NULL);
    CHECK_EQ_I64(access(missing, F_OK), -1);

    /* A directory. */
    in_dir("directory.csv", path);
    CHECK_EQ_I64(mkdir(path, 0700), 0);
    scenario(path, 1u << 20);
    snprintf(message, sizeof message, " %s: ", path);
    EXPECT_REFUSED(1, message);
    if (CHECK_EQ_I64(lstat(path, &status), 0))
        CHECK(S_ISDIR(status.st_mode));

    /* A FIFO with no reader: refused at once, not waited on. */
    in_dir("fifo.csv", path);
    CHECK_EQ_I64(mkfifo(path, 0600), 0);
    scenario(path, 1u << 20);
    snprintf(message, sizeof message, "not a regular file, not writing to %s\n", path);
    EXPECT_REFUSED(1, message);
    CHECK_EQ_I64(lstat(path, &status), 0);

    /* A device: not a regular file. */
    scenario("/dev/null", 1u << 20);
    EXPECT_REFUSED(1, "not a regular file, not writing to /dev/null\n");

    /* A directory that does not exist. */
    in_dir("no/such/dir.csv", path);
    scenario(path, 1u << 20);
    snprintf(message, sizeof message, " %s: ", path);
    EXPECT_REFUSED(1, message);

    /* A file of another user (root can make one). */
    if (geteuid() == 0) {
        in_dir("foreign.csv", path);
        CHECK(write_file(path, precious, 0666));
        CHECK_EQ_I64(chown(path, 65534, 65534), 0);
        scenario(path, 1u << 20);
        snprintf(message, sizeof message, "owned by another user, not writing to %s\n", path);
        EXPECT_REFUSED(1, message);
        CHECK_FILE(path, precious);
    }

    /* The link removed, the next batch writes a file of its own there. */
    in_dir("link.csv", path);
    scenario(path, 1u << 20);
    EXPECT_REFUSED(1, "refusing to follow a symbolic link at ");
    CHECK_EQ_I64(unlink(path), 0);
    CHECK_TRUE(csv_writer_begin());
    write_row(0x600d);
    csv_writer_end();
    snprintf(expected, sizeof expected, "%s%s", CSV_HEADER, row_text(0x600d, row, sizeof row));
    CHECK_FILE(path, expected);
    CHECK_FILE(target, precious);

    /* Moved away and replaced by a link between two batches: the link is refused, and the
     * rows go on into the file held. */
    char moved[PATH_MAX];
    CHECK_EQ_I64(rename(path, in_dir("link.csv.1", moved)), 0);
    CHECK_EQ_I64(symlink(target, path), 0);
    struct stderr_capture capture;
    check_stderr_begin(&capture);
    CHECK_TRUE(csv_writer_begin());
    write_row(0xa11);
    csv_writer_end();
    char *messages = check_stderr_end(&capture);
    snprintf(message, sizeof message, "malloc-trace: refusing to follow a symbolic link at %s\n",
             path);
    CHECK_PREFIX(messages, message);
    CHECK_EQ_U64(check_count_lines(messages), 1);
    free(messages);
    CHECK_FILE(target, precious);
    size_t used = strlen(expected);
    row_text(0xa11, expected + used, sizeof expected - used);
    CHECK_FILE(moved, expected);
}

/* The descriptor number the writer holds, by the path it has open; -1 if none. */
static int descriptor_of(const char *path)
{
    DIR *descriptors = opendir("/proc/self/fd");
    int found = -1;
    struct dirent *entry;
    while (descriptors != NULL && found < 0 && (entry = readdir(descriptors)) != NULL) {
        char link[320], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%s", entry->d_name);
        ssize_t length = readlink(link, target, sizeof target - 1);
        if (length > 0 && (target[length] = '\0', strcmp(target, path) == 0))
            found = atoi(entry->d_name);
    }
    if (descriptors != NULL)
        closedir(descriptors);
    return found;
}

/* The program closed the writer's descriptor and was handed its number for the same file,
 * opened for reading (a daemon's start closes every descriptor; a file system hands a
 * deleted file's inode number on): that descriptor is the program's. The writer leaves it
 * open and untouched, and writes through one of its own, with no message. */
static void test_descriptor_taken_over(void)
{
    char path[PATH_MAX], expected[512];
    scenario(in_dir("taken.csv", path), 1u << 20);
    CHECK_TRUE(csv_writer_begin());
    write_row(0x1);
    csv_writer_end();
    int number = descriptor_of(path);
    int program_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (!CHECK(number >= 0) || !CHECK(program_fd >= 0))
        return;
    CHECK_EQ_I64(dup2(program_fd, number), number);
    close(program_fd);
    struct stderr_capture capture;
    check_stderr_begin(&capture);
    CHECK_TRUE(csv_writer_begin());
    write_row(0x2);
    csv_writer_end();
    char *messages = check_stderr_end(&capture);
    CHECK_EQ_U64(check_count_lines(messages), 0);
    free(messages);
    snprintf(expected, sizeof expected, "%s", CSV_HEADER);
    for (unsigned address = 0x1; address <= 0x2; address++) {
        size_t used = strlen(expected);
        row_text(address, expected + used, sizeof expected - used);
    }
    CHECK_FILE(path, expected);
    CHECK_EQ_I64(fcntl(number, F_GETFL) & O_ACCMODE, O_RDONLY); /* still open, the program's */
    close(number);
}

/* The directory of the file moved away between two batches (a program that went into a
 * chroot sees the same): no file can be made at the path, and the rows go on into the file
 * held, with one message. */
static void test_path_gone(void)
{
    char path[PATH_MAX], subdir[PATH_MAX], moved[PATH_MAX], held[PATH_MAX], expected[512];
    CHECK_EQ_I64(mkdir(in_dir("sub", subdir), 0700), 0);
    scenario(in_dir("sub/trace.csv", path), 1u << 20);
    CHECK_TRUE(csv_writer_begin());
    write_row(0x1);
    csv_writer_end();
    CHECK_EQ_I64(rename(subdir, in_dir("sub.moved", moved)), 0);
    for (int batch = 0; batch < 2; batch++) {
        struct stderr_capture capture;
        check_stderr_begin(&capture);
        CHECK_TRUE(csv_writer_begin());
        write_row(0x2 + (unsigned)batch);
        csv_writer_end();
        char *messages = check_stderr_end(&capture);
        CHECK_EQ_U64(check_count_lines(messages), batch == 0 ? 1 : 0); /* said once */
        if (batch == 0)
            CHECK_PREFIX(messages, "malloc-trace: cannot open ");
        free(messages);
    }
    snprintf(expected, sizeof expected, "%s", CSV_HEADER);
    for (unsigned address = 0x1; address <= 0x3; address++) {
        size_t used = strlen(expected);
        row_text(address, expected + used, sizeof expected - used);
    }
    CHECK_FILE(in_dir("sub.moved/trace.csv", held), expected);
    CHECK_EQ_I64(access(path, F_OK), -1);
}

/* Emptied in place between two batches (`: > file`, logrotate's copytruncate): the file
 * should start with the header again, as open_file gives an empty existing file one. */
static void test_truncated_in_place(void)
{
    char path[PATH_MAX], expected[512], row[256];
    scenario(in_dir("emptied.csv", path), 1u << 20);
    CHECK_TRUE(csv_writer_begin());
    write_row(0x1);
    csv_writer_end();
    CHECK_EQ_I64(truncate(path, 0), 0);
    CHECK_TRUE(csv_writer_begin());
    write_row(0x2);
    csv_writer_end();
    snprintf(expected, sizeof expected, "%s%s", CSV_HEADER, row_text(0x2, row, sizeof row));
    CHECK_FILE(path, expected);
}

/* csv_writer_configure with a new path while a file is open: rows should go to the new
 * path, not to the old file. */
static void test_reconfigure(void)
{
    char first[PATH_MAX], second[PATH_MAX], expected[512], row[256];
    scenario(in_dir("first.csv", first), 1u << 20);
    CHECK_TRUE(csv_writer_begin());
    csv_writer_end();
    csv_writer_configure(in_dir("second.csv", second), 1u << 20); /* no reset */
    CHECK_TRUE(csv_writer_begin());
    write_row(0x3);
    csv_writer_end();
    snprintf(expected, sizeof expected, "%s%s", CSV_HEADER, row_text(0x3, row, sizeof row));
    CHECK_FILE(second, expected);
    CHECK_FILE(first, CSV_HEADER);
}

/* ---- main --------------------------------------------------------------------------------- */

static const char *lookup_environment(const char *name)
{
    return getenv(name);
}

static void remove_tree(const char *path)
{
    char command[PATH_MAX + 32];
    snprintf(command, sizeof command, "rm -rf '%s'", path);
    if (system(command) != 0)
        fprintf(stderr, "cannot remove %s\n", path);
}

int main(void)
{
    alarm(30);
    umask(022);
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    flusher_lock();
    RUN_TEST(test_expand_path);
    RUN_TEST(test_create);
    RUN_TEST(test_many_rows);
    RUN_TEST(test_existing_file);
    RUN_TEST(test_moved_or_deleted);
    RUN_TEST(test_pid_in_path);
    RUN_TEST(test_truncation);
    RUN_TEST(test_oversized_row);
    RUN_TEST(test_refusals);
    RUN_TEST(test_path_gone);
    RUN_TEST(test_descriptor_taken_over);
    RUN_TEST(test_truncated_in_place);
    RUN_TEST(test_reconfigure);

    /* Back to the tracer's own file for its exit pass. */
    struct settings settings;
    settings_load(&settings, lookup_environment);
    csv_writer_reset_in_child();
    csv_writer_configure(settings.out_file_path, settings.out_file_max_size);
    flusher_unlock();
    remove_tree(dir);
    return check_exit_status();
}
