/* fuzz_trace.c: a libFuzzer target for what `malloc-trace report` and `check` do with a
 * trace file: the reader (cli/trace_reader.c), the settling of rows (cli/trace_summary.c),
 * and every output the rows reach (text, json, folded, svg, the gate, suppression matching,
 * the JUnit report). The input is the whole file, header included.
 *
 * The commands themselves are called, with the arguments a user would give, so that what is
 * fuzzed is what the command runs. They take paths: the input goes into a memfd, named
 * /proc/self/fd/N, which stat(), access() and fopen() treat as a regular file without
 * touching the disk. Their standard output goes into another memfd and is read back.
 *
 * Findings: whatever AddressSanitizer (leaks included) and UBSan report, a status the
 * commands never return, and outputs that disagree: every format of the full report, and
 * the gate without suppressions, must give the same total of bytes and blocks outstanding
 * (a sanitizer cannot see a sum that wrapped; this comparison does). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "report.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char trace_path[64];
static int trace_fd = -1;
static int output_fd = -1; /* where standard output goes */
static char suppressions_path[64];
static FILE *real_stderr, *quiet;

/* Patterns that send the fuzzed frame names through every branch of LeakSanitizer's
 * matching: anchors, wildcards, a '$' after a '*', a literal that never occurs. */
static const char suppressions[] = "# fuzzing\n"
                                   "leak:^main$\n"
                                   "leak:*.c$\n"
                                   "leak:^cache::*insert(*)$\n"
                                   "leak:lib*so*$\n"
                                   "free:^free*\n"
                                   "free:cleanup\n";

static int memfd_path(const char *name, char *path, size_t size)
{
    int fd = memfd_create(name, 0);
    if (fd < 0) {
        perror("fuzz_trace: memfd_create");
        abort();
    }
    snprintf(path, size, "/proc/self/fd/%d", fd);
    return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char unused[64];
    output_fd = memfd_path("output", unused, sizeof unused);
    fflush(stdout);
    if (dup2(output_fd, STDOUT_FILENO) < 0)
        abort();
    trace_fd = memfd_path("trace", trace_path, sizeof trace_path);
    /* The commands' messages (FILE:LINE: reason, for every damaged line of every run) would
     * bury libFuzzer's; the sanitizers write to file descriptor 2 themselves. */
    real_stderr = stderr;
    quiet = fopen("/dev/null", "w");
    if (quiet == NULL)
        abort();
    int fd = memfd_path("suppressions", suppressions_path, sizeof suppressions_path);
    if (write(fd, suppressions, sizeof suppressions - 1) != (ssize_t)(sizeof suppressions - 1))
        abort();
    return 0;
}

__attribute__((noreturn)) static void fail(const char *what, const char *output)
{
    fprintf(real_stderr, "fuzz_trace: %s\n--- output ---\n%s\n", what, output ? output : "");
    abort();
}

/* Runs a command (report_command or check_command) with argv, NULL-terminated; returns what
 * it printed on standard output (to free). Its status must be one the commands document:
 * 0, 1 (check over the allowance) or 2 (bad input). */
static char *run(int (*command)(int, char **), char **argv)
{
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    if (lseek(output_fd, 0, SEEK_SET) != 0 || ftruncate(output_fd, 0) != 0)
        abort();
    stderr = quiet; /* glibc's stderr is a variable */
    int status = command(argc, argv);
    stderr = real_stderr;
    fflush(stdout);
    off_t length = lseek(output_fd, 0, SEEK_CUR);
    char *output = malloc((size_t)length + 1);
    if (length < 0 || output == NULL || pread(output_fd, output, (size_t)length, 0) != length)
        abort();
    output[length] = '\0';
    if (status < 0 || status > 2 || (status == 1 && command != check_command)) {
        char message[64];
        snprintf(message, sizeof message, "%s returned %d", argv[0], status);
        fail(message, output);
    }
    return output;
}

struct totals {
    uint64_t bytes;
    uint64_t blocks;
};

/* The oracle's own sum, saturating as the commands promise (CONTRACT: exact integers, and
 * a total never wraps to a small number). */
static uint64_t saturating_add(uint64_t a, uint64_t b)
{
    return a > INT64_MAX || b > INT64_MAX - a ? INT64_MAX : a + b;
}

static struct totals text_totals(const char *output)
{
    /* The total is the last line. */
    size_t length = strlen(output);
    const char *line = output + length;
    if (length > 0)
        line--;
    while (line > output && line[-1] != '\n')
        line--;
    struct totals totals = {0, 0};
    if (sscanf(line, "total: %" SCNu64 " %*[bytes] outstanding in %" SCNu64, &totals.bytes,
               &totals.blocks) != 2)
        fail("the text report has no total line", output);
    return totals;
}

static struct totals json_totals(const char *output)
{
    struct totals totals = {0, 0};
    if (sscanf(output, " { \"total_bytes\" : %" SCNu64 " , \"total_blocks\" : %" SCNu64,
               &totals.bytes, &totals.blocks) != 2)
        fail("the json report does not begin with its totals", output);
    return totals;
}

static struct totals svg_totals(const char *output)
{
    struct totals totals = {0, 0};
    const char *title = strstr(output, "malloc-trace: ");
    if (title == NULL || sscanf(title, "malloc-trace: %" SCNu64 " %*[bytes] outstanding in %" SCNu64,
                                &totals.bytes, &totals.blocks) != 2)
        fail("the flame graph has no title", output);
    return totals;
}

/* Bytes only: the folded format has no block counts. */
static uint64_t folded_bytes(const char *output)
{
    uint64_t bytes = 0;
    for (const char *line = output; *line;) {
        const char *end = strchr(line, '\n');
        if (end == NULL)
            fail("a folded line without its line end", output);
        const char *number = end;
        while (number > line && number[-1] != ' ')
            number--;
        char *after;
        uint64_t value = strtoull(number, &after, 10);
        if (number == line || after != end)
            fail("a folded line that does not end in a byte count", output);
        bytes = saturating_add(bytes, value);
        line = end + 1;
    }
    return bytes;
}

static struct totals check_totals(const char *output)
{
    struct totals totals = {0, 0};
    if (sscanf(output, "malloc-trace check: %" SCNu64 " %*[bytes] leaked in %" SCNu64,
               &totals.bytes, &totals.blocks) != 2)
        fail("the gate printed no summary", output);
    return totals;
}

static void expect_same(const char *what, struct totals found, struct totals text,
                        const char *output)
{
    if (found.bytes != text.bytes || found.blocks != text.blocks) {
        char message[200];
        snprintf(message, sizeof message,
                 "%s: %" PRIu64 " bytes in %" PRIu64 " blocks, the text report %" PRIu64
                 " in %" PRIu64,
                 what, found.bytes, found.blocks, text.bytes, text.blocks);
        fail(message, output);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(trace_fd, 0) != 0 || pwrite(trace_fd, data, size, 0) != (ssize_t)size)
        abort();

    char *output = run(report_command, (char *[]){"report", trace_path, NULL});
    struct totals text = text_totals(output);
    free(output);

    output = run(report_command, (char *[]){"report", "--format", "json", trace_path, NULL});
    expect_same("json", json_totals(output), text, output);
    free(output);

    output = run(report_command, (char *[]){"report", "--format", "svg", trace_path, NULL});
    expect_same("svg", svg_totals(output), text, output);
    free(output);

    output = run(report_command, (char *[]){"report", "--format", "folded", trace_path, NULL});
    struct totals folded = {folded_bytes(output), text.blocks};
    expect_same("folded", folded, text, output);
    free(output);

    output = run(check_command, (char *[]){"check", trace_path, NULL});
    expect_same("check", check_totals(output), text, output);
    free(output);

    /* What is not compared, still run: partial listings, suppressions, the JUnit writer,
     * and the file read twice (the second copy's rows settle against the first's). */
    static const char *const formats[] = {"text", "json", "folded", "svg"};
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        free(run(report_command, (char *[]){"report", "--top", "1", "--format",
                                            (char *)formats[i], trace_path, NULL}));
    free(run(check_command, (char *[]){"check", "--suppressions", suppressions_path, "--junit",
                                       "/dev/null", "--fail-on-free", trace_path, trace_path,
                                       NULL}));
    return 0;
}
