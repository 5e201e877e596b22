/* check.h: typed assertions for the unit tests, in the spirit of jemalloc's test.h.
 *
 * A failed check prints file:line, the expression and both values, counts the failure and
 * lets the test go on; each macro also yields whether the check held, so that a test can
 * stop early (`if (!CHECK(p != NULL)) return;`). Each test program's main() ends with
 * `return check_exit_status();`.
 *
 * Also here: RUN_TEST, which names a test function and its result, and the capture of the
 * tracer's stderr messages (os_message writes straight to file descriptor 2). */
#ifndef MALLOC_TRACE_TESTS_CHECK_H
#define MALLOC_TRACE_TESTS_CHECK_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
    unsigned long checks;
    unsigned long failed;
} check_state;

static inline bool check_record(bool held, const char *file, int line)
{
    check_state.checks++;
    if (!held) {
        check_state.failed++;
        fprintf(stderr, "%s:%d: check failed\n", file, line);
    }
    return held;
}

/* A string quoted with C escapes, at most limit bytes of it, to stderr. */
static inline void check_print_string(const char *text, size_t limit)
{
    if (text == NULL) {
        fputs("NULL", stderr);
        return;
    }
    fputc('"', stderr);
    size_t i = 0;
    for (; text[i] != '\0' && i < limit; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n')
            fputs("\\n", stderr);
        else if (c == '\\' || c == '"')
            fprintf(stderr, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    fputc('"', stderr);
    if (text[i] != '\0')
        fprintf(stderr, "... (%zu bytes)", strlen(text));
}

static inline bool check_true(bool held, const char *expression, const char *file, int line)
{
    if (!check_record(held, file, line))
        fprintf(stderr, "    CHECK(%s)\n", expression);
    return held;
}

enum check_relation { CHECK_EQ, CHECK_NE, CHECK_LE, CHECK_GE, CHECK_LT };

static inline bool check_u64(uint64_t actual, uint64_t expected, enum check_relation relation,
                             const char *actual_text, const char *expected_text,
                             const char *file, int line)
{
    static const char *const names[] = {"==", "!=", "<=", ">=", "<"};
    bool held = relation == CHECK_EQ   ? actual == expected
                : relation == CHECK_NE ? actual != expected
                : relation == CHECK_LE ? actual <= expected
                : relation == CHECK_GE ? actual >= expected
                                       : actual < expected;
    if (!check_record(held, file, line))
        fprintf(stderr,
                "    %s %s %s\n    actual:   %" PRIu64 " (0x%" PRIx64 ")\n"
                "    expected: %s %" PRIu64 " (0x%" PRIx64 ")\n",
                actual_text, names[relation], expected_text, actual, actual, names[relation],
                expected, expected);
    return held;
}

static inline bool check_i64(int64_t actual, int64_t expected, const char *actual_text,
                             const char *expected_text, const char *file, int line)
{
    bool held = actual == expected;
    if (!check_record(held, file, line))
        fprintf(stderr, "    %s == %s\n    actual:   %" PRId64 "\n    expected: %" PRId64 "\n",
                actual_text, expected_text, actual, expected);
    return held;
}

static inline bool check_str(const char *actual, const char *expected, bool prefix_only,
                             const char *actual_text, const char *expected_text,
                             const char *file, int line)
{
    bool held = actual != NULL && expected != NULL
                && (prefix_only ? strncmp(actual, expected, strlen(expected)) == 0
                                : strcmp(actual, expected) == 0);
    if (!check_record(held, file, line)) {
        fprintf(stderr, "    %s %s %s\n    actual:   ", actual_text,
                prefix_only ? "starts with" : "==", expected_text);
        check_print_string(actual, 400);
        fputs("\n    expected: ", stderr);
        check_print_string(expected, 400);
        if (actual != NULL && expected != NULL) {
            size_t at = 0;
            while (actual[at] != '\0' && actual[at] == expected[at])
                at++;
            fprintf(stderr, "\n    first difference at byte %zu", at);
        }
        fputc('\n', stderr);
    }
    return held;
}

static inline bool check_contains(const char *haystack, const char *needle,
                                  const char *haystack_text, const char *needle_text,
                                  const char *file, int line)
{
    bool held = haystack != NULL && needle != NULL && strstr(haystack, needle) != NULL;
    if (!check_record(held, file, line)) {
        fprintf(stderr, "    %s contains %s\n    text:   ", haystack_text, needle_text);
        check_print_string(haystack, 400);
        fputs("\n    needle: ", stderr);
        check_print_string(needle, 400);
        fputc('\n', stderr);
    }
    return held;
}

#define CHECK(cond) check_true((cond) ? true : false, #cond, __FILE__, __LINE__)
#define CHECK_EQ_U64(actual, expected) \
    check_u64((actual), (expected), CHECK_EQ, #actual, #expected, __FILE__, __LINE__)
#define CHECK_NE_U64(actual, expected) \
    check_u64((actual), (expected), CHECK_NE, #actual, #expected, __FILE__, __LINE__)
#define CHECK_LE_U64(actual, bound) \
    check_u64((actual), (bound), CHECK_LE, #actual, #bound, __FILE__, __LINE__)
#define CHECK_GE_U64(actual, bound) \
    check_u64((actual), (bound), CHECK_GE, #actual, #bound, __FILE__, __LINE__)
#define CHECK_LT_U64(actual, bound) \
    check_u64((actual), (bound), CHECK_LT, #actual, #bound, __FILE__, __LINE__)
#define CHECK_EQ_I64(actual, expected) \
    check_i64((actual), (expected), #actual, #expected, __FILE__, __LINE__)
#define CHECK_EQ_PTR(actual, expected)                                                \
    check_u64((uint64_t)(uintptr_t)(actual), (uint64_t)(uintptr_t)(expected), CHECK_EQ, \
              #actual, #expected, __FILE__, __LINE__)
#define CHECK_TRUE(actual) CHECK_EQ_U64((actual) ? 1u : 0u, 1u)
#define CHECK_FALSE(actual) CHECK_EQ_U64((actual) ? 1u : 0u, 0u)
#define CHECK_EQ_STR(actual, expected) \
    check_str((actual), (expected), false, #actual, #expected, __FILE__, __LINE__)
#define CHECK_PREFIX(actual, prefix) \
    check_str((actual), (prefix), true, #actual, #prefix, __FILE__, __LINE__)
#define CHECK_CONTAINS(haystack, needle) \
    check_contains((haystack), (needle), #haystack, #needle, __FILE__, __LINE__)

/* "N checks, M failed" on stdout; the exit status of the test program. */
static inline int check_exit_status(void)
{
    printf("%lu checks, %lu failed\n", check_state.checks, check_state.failed);
    fflush(stdout);
    return check_state.failed != 0 ? 1 : 0;
}

/* Runs one test function and says how it went. */
#define RUN_TEST(function) check_run(function, #function)
static inline void check_run(void (*function)(void), const char *name)
{
    unsigned long checks = check_state.checks, failed = check_state.failed;
    function();
    printf("%-6s %s (%lu checks)\n", check_state.failed == failed ? "ok" : "FAILED", name,
           check_state.checks - checks);
    fflush(stdout);
}

/* ---- stderr capture ----------------------------------------------------------------- */

/* Redirects file descriptor 2 into an anonymous temporary file until check_stderr_end. */
struct stderr_capture {
    int saved_fd;
    FILE *file;
};

static inline bool check_stderr_begin(struct stderr_capture *capture)
{
    fflush(stderr);
    capture->file = tmpfile();
    capture->saved_fd = dup(STDERR_FILENO);
    if (capture->file == NULL || capture->saved_fd < 0
        || dup2(fileno(capture->file), STDERR_FILENO) < 0) {
        fprintf(stderr, "check_stderr_begin: cannot redirect stderr\n");
        exit(2);
    }
    return true;
}

/* Restores stderr; returns what was written to it meanwhile (malloc'd, NUL-terminated). */
static inline char *check_stderr_end(struct stderr_capture *capture)
{
    fflush(stderr);
    dup2(capture->saved_fd, STDERR_FILENO);
    close(capture->saved_fd);
    off_t length = lseek(fileno(capture->file), 0, SEEK_END);
    char *text = malloc((size_t)(length > 0 ? length : 0) + 1);
    if (text == NULL)
        exit(2);
    size_t got = 0;
    if (length > 0 && lseek(fileno(capture->file), 0, SEEK_SET) == 0) {
        ssize_t n;
        while (got < (size_t)length
               && (n = read(fileno(capture->file), text + got, (size_t)length - got)) > 0)
            got += (size_t)n;
    }
    text[got] = '\0';
    fclose(capture->file);
    return text;
}

/* Lines of text (each ended by '\n'). */
static inline unsigned check_count_lines(const char *text)
{
    unsigned lines = 0;
    for (; *text != '\0'; text++)
        lines += *text == '\n';
    return lines;
}

/* The index-th line of text, without its '\n', into out (truncated to out_size). */
static inline const char *check_line(const char *text, unsigned index, char *out,
                                     size_t out_size)
{
    for (unsigned i = 0; i < index && text != NULL; i++) {
        text = strchr(text, '\n');
        if (text != NULL)
            text++;
    }
    if (text == NULL || out_size == 0)
        return "";
    size_t length = strcspn(text, "\n");
    if (length >= out_size)
        length = out_size - 1;
    memcpy(out, text, length);
    out[length] = '\0';
    return out;
}

#endif
