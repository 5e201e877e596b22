/* test_settings.c: the parsers and settings_load (CONTRACT section 4), with a lookup table
 * standing for the environment and stderr captured to count the messages. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "settings.h"

#define SENTINEL_U64 0x5a5a5a5a5a5a5a5aull
#define SENTINEL_UNSIGNED 0xa5a5a5a5u

/* ---- settings_parse_size -------------------------------------------------------------- */

static void expect_size(const char *text, uint64_t expected, int line)
{
    uint64_t value = SENTINEL_U64;
    bool parsed = settings_parse_size(text, &value);
    if (!check_u64(parsed, 1, CHECK_EQ, text, "accepted", __FILE__, line))
        return;
    check_u64(value, expected, CHECK_EQ, text, "expected", __FILE__, line);
}

static void expect_size_rejected(const char *text, int line)
{
    uint64_t value = SENTINEL_U64;
    bool parsed = settings_parse_size(text, &value);
    check_u64(parsed, 0, CHECK_EQ, text, "rejected", __FILE__, line);
    check_u64(value, SENTINEL_U64, CHECK_EQ, text, "left untouched", __FILE__, line);
}

#define EXPECT_SIZE(text, expected) expect_size(text, expected, __LINE__)
#define EXPECT_SIZE_REJECTED(text) expect_size_rejected(text, __LINE__)

static void test_parse_size_decimal(void)
{
    EXPECT_SIZE("1", 1);
    EXPECT_SIZE("9", 9);
    EXPECT_SIZE("4096", 4096);
    EXPECT_SIZE("1000000007", 1000000007ull);
    EXPECT_SIZE("4294967296", 4294967296ull);
    EXPECT_SIZE("010", 10); /* decimal, not octal */
    EXPECT_SIZE("18446744073709551615", UINT64_MAX);
}

static void test_parse_size_hex(void)
{
    EXPECT_SIZE("0x1", 1);
    EXPECT_SIZE("0x10", 16);
    EXPECT_SIZE("0X10", 16);
    EXPECT_SIZE("0xff", 255);
    EXPECT_SIZE("0xFF", 255);
    EXPECT_SIZE("0XaBcDeF", 0xabcdef);
    EXPECT_SIZE("0x100000000", 0x100000000ull);
    EXPECT_SIZE("0x0000000000000000000001", 1); /* leading zeros do not overflow */
    EXPECT_SIZE("0xffffffffffffffff", UINT64_MAX);
    EXPECT_SIZE("0xFFFFFFFFFFFFFFFF", UINT64_MAX);
}

static void test_parse_size_rejected(void)
{
    EXPECT_SIZE_REJECTED("0");
    EXPECT_SIZE_REJECTED("00");
    EXPECT_SIZE_REJECTED("0x0");
    EXPECT_SIZE_REJECTED("0x000");
    EXPECT_SIZE_REJECTED("");
    EXPECT_SIZE_REJECTED("12abc");
    EXPECT_SIZE_REJECTED("abc");
    EXPECT_SIZE_REJECTED("0x");
    EXPECT_SIZE_REJECTED("0X");
    EXPECT_SIZE_REJECTED("0xg");
    EXPECT_SIZE_REJECTED("0x1g");
    EXPECT_SIZE_REJECTED("x10");
    EXPECT_SIZE_REJECTED("ff"); /* hex digits need the 0x */
    EXPECT_SIZE_REJECTED("18446744073709551616");  /* 2^64 */
    EXPECT_SIZE_REJECTED("99999999999999999999");
    EXPECT_SIZE_REJECTED("0x10000000000000000"); /* 2^64 */
    EXPECT_SIZE_REJECTED("0x1ffffffffffffffff");
    EXPECT_SIZE_REJECTED("-5");
    EXPECT_SIZE_REJECTED("-0x5");
    EXPECT_SIZE_REJECTED("+5");
    EXPECT_SIZE_REJECTED(" 5");
    EXPECT_SIZE_REJECTED("5 ");
    EXPECT_SIZE_REJECTED("5\n");
    EXPECT_SIZE_REJECTED("1e3");
    EXPECT_SIZE_REJECTED("1.5");
    EXPECT_SIZE_REJECTED("1k");
    EXPECT_SIZE_REJECTED("0x 1");
}

/* ---- settings_parse_unsigned ---------------------------------------------------------- */

static void expect_unsigned(const char *text, unsigned max, unsigned expected, int line)
{
    unsigned value = SENTINEL_UNSIGNED;
    bool parsed = settings_parse_unsigned(text, max, &value);
    if (!check_u64(parsed, 1, CHECK_EQ, text, "accepted", __FILE__, line))
        return;
    check_u64(value, expected, CHECK_EQ, text, "expected", __FILE__, line);
}

static void expect_unsigned_rejected(const char *text, unsigned max, int line)
{
    unsigned value = SENTINEL_UNSIGNED;
    bool parsed = settings_parse_unsigned(text, max, &value);
    check_u64(parsed, 0, CHECK_EQ, text, "rejected", __FILE__, line);
    check_u64(value, SENTINEL_UNSIGNED, CHECK_EQ, text, "left untouched", __FILE__, line);
}

#define EXPECT_UNSIGNED(text, max, expected) expect_unsigned(text, max, expected, __LINE__)
#define EXPECT_UNSIGNED_REJECTED(text, max) expect_unsigned_rejected(text, max, __LINE__)

static void test_parse_unsigned(void)
{
    EXPECT_UNSIGNED("1", 10, 1);
    EXPECT_UNSIGNED("7", 10, 7);
    EXPECT_UNSIGNED("007", 10, 7);
    EXPECT_UNSIGNED("10", 10, 10); /* max itself */
    EXPECT_UNSIGNED("1", 1, 1);
    EXPECT_UNSIGNED("256", 256, 256);
    EXPECT_UNSIGNED("31622400", 31622400u, 31622400u);
    EXPECT_UNSIGNED("4294967295", UINT_MAX, UINT_MAX);

    EXPECT_UNSIGNED_REJECTED("11", 10); /* max + 1 */
    EXPECT_UNSIGNED_REJECTED("257", 256);
    EXPECT_UNSIGNED_REJECTED("2", 1);
    EXPECT_UNSIGNED_REJECTED("4294967296", UINT_MAX); /* UINT_MAX + 1 */
    EXPECT_UNSIGNED_REJECTED("18446744073709551616", UINT_MAX);
    EXPECT_UNSIGNED_REJECTED("99999999999999999999999", UINT_MAX);
    EXPECT_UNSIGNED_REJECTED("0", 10);
    EXPECT_UNSIGNED_REJECTED("000", 10);
    EXPECT_UNSIGNED_REJECTED("", 10);
    EXPECT_UNSIGNED_REJECTED("+5", 10);
    EXPECT_UNSIGNED_REJECTED("-5", 10);
    EXPECT_UNSIGNED_REJECTED("-0", 10);
    EXPECT_UNSIGNED_REJECTED(" 5", 10);
    EXPECT_UNSIGNED_REJECTED("5 ", 10);
    EXPECT_UNSIGNED_REJECTED("5\t", 10);
    EXPECT_UNSIGNED_REJECTED("0x5", 10); /* decimal only */
    EXPECT_UNSIGNED_REJECTED("5s", 10);
    EXPECT_UNSIGNED_REJECTED("1.0", 10);
}

/* ---- settings_load -------------------------------------------------------------------- */

static const char *const variable_names[] = {"out_file_path", "out_file_max_size",
                                             "malloc_second_peremption", "MALLOC_TRACE_DEPTH",
                                             "MALLOC_TRACE_SYMBOLS", "MALLOC_TRACE_REACHABLE",
                                             "MALLOC_TRACE_UNWIND"};
#define VARIABLE_COUNT (sizeof variable_names / sizeof *variable_names)

/* The environment of one scenario: a value (or NULL: unset) per variable. */
static const char *table[VARIABLE_COUNT];
static unsigned asked[VARIABLE_COUNT];
static unsigned asked_other;

static const char *table_lookup(const char *name)
{
    for (size_t i = 0; i < VARIABLE_COUNT; i++) {
        if (strcmp(name, variable_names[i]) == 0) {
            asked[i]++;
            return table[i];
        }
    }
    asked_other++;
    return NULL;
}

enum { PATH, MAX_SIZE, PERIOD, DEPTH, SYMBOLS, REACHABLE, UNWIND };

static void set_table(const char *path, const char *max_size, const char *period,
                      const char *depth, const char *symbols)
{
    table[PATH] = path;
    table[MAX_SIZE] = max_size;
    table[PERIOD] = period;
    table[DEPTH] = depth;
    table[SYMBOLS] = symbols;
}

/* Loads the table into *out (filled with garbage first, so that every field must be set)
 * and returns what went to stderr meanwhile (malloc'd). */
static char *load(struct settings *out)
{
    memset(out, 0xab, sizeof *out);
    memset(asked, 0, sizeof asked);
    asked_other = 0;
    struct stderr_capture capture;
    check_stderr_begin(&capture);
    settings_load(out, table_lookup);
    return check_stderr_end(&capture);
}

static void check_defaults_except(const struct settings *s, int except)
{
    if (except != PATH)
        CHECK_EQ_STR(s->out_file_path, "/tmp/malloc-trace.csv");
    if (except != MAX_SIZE)
        CHECK_EQ_U64(s->out_file_max_size, 0x100000000ull);
    if (except != PERIOD)
        CHECK_EQ_U64(s->period_seconds, 60);
    if (except != DEPTH)
        CHECK_EQ_U64(s->depth, 32);
    if (except != SYMBOLS)
        CHECK_EQ_U64(s->symbols, true);
    if (except != REACHABLE)
        CHECK_EQ_U64(s->reachable, false);
    if (except != UNWIND)
        CHECK_EQ_U64(s->unwinder, UNWINDER_TABLES);
}

/* set_table leaves MALLOC_TRACE_UNWIND unset; this test sets it, then unsets it. */
static void test_load_unwind(void)
{
    struct settings s;
    set_table(NULL, NULL, NULL, NULL, NULL);
    static const struct {
        const char *text;
        enum unwinder unwinder;
    } accepted[] = {{"fp", UNWINDER_FRAME_POINTERS},
                    {"libunwind", UNWINDER_LIBUNWIND},
                    {"tables", UNWINDER_TABLES}};
    char *messages;
    for (size_t i = 0; i < sizeof accepted / sizeof *accepted; i++) {
        table[UNWIND] = accepted[i].text;
        messages = load(&s);
        CHECK_EQ_U64(s.unwinder, accepted[i].unwinder);
        check_defaults_except(&s, UNWIND);
        CHECK_EQ_STR(messages, "");
        free(messages);
    }

    static const char *const refused[] = {"FP", "", "dwarf", "fp ", "libunwind2", "table"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        table[UNWIND] = refused[i];
        messages = load(&s);
        check_defaults_except(&s, -1);
        char expected[128];
        snprintf(expected, sizeof expected,
                 "malloc-trace: MALLOC_TRACE_UNWIND: '%s' is not tables, libunwind or fp; "
                 "using tables\n", refused[i]);
        CHECK_EQ_STR(messages, expected);
        free(messages);
    }
    table[UNWIND] = NULL;
}

/* set_table leaves MALLOC_TRACE_REACHABLE unset; this test sets it, then unsets it. */
static void test_load_reachable(void)
{
    struct settings s;
    set_table(NULL, NULL, NULL, NULL, NULL);
    table[REACHABLE] = "1";
    char *messages = load(&s);
    CHECK_EQ_U64(s.reachable, true);
    check_defaults_except(&s, REACHABLE);
    CHECK_EQ_STR(messages, "");
    free(messages);

    table[REACHABLE] = "0";
    messages = load(&s);
    check_defaults_except(&s, -1);
    CHECK_EQ_STR(messages, "");
    free(messages);

    static const char *const refused[] = {"yes", "", "2", "01", " 1"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        table[REACHABLE] = refused[i];
        messages = load(&s);
        check_defaults_except(&s, -1);
        char expected[128];
        snprintf(expected, sizeof expected,
                 "malloc-trace: MALLOC_TRACE_REACHABLE: '%s' is neither 0 nor 1; using 0\n",
                 refused[i]);
        CHECK_EQ_STR(messages, expected);
        free(messages);
    }
    table[REACHABLE] = NULL;
}

static void test_load_defaults(void)
{
    struct settings s;
    set_table(NULL, NULL, NULL, NULL, NULL);
    char *messages = load(&s);
    check_defaults_except(&s, -1);
    CHECK_EQ_STR(messages, "");
    /* Each variable is looked up once, by its exact name, and nothing else. */
    for (size_t i = 0; i < VARIABLE_COUNT; i++)
        CHECK_EQ_U64(asked[i], 1);
    CHECK_EQ_U64(asked_other, 0);
    free(messages);
}

static void test_load_each_valid(void)
{
    struct settings s;
    char *messages;

    set_table("/var/tmp/trace-%p.csv", NULL, NULL, NULL, NULL);
    messages = load(&s);
    CHECK_EQ_STR(s.out_file_path, "/var/tmp/trace-%p.csv"); /* %p expanded only at open */
    check_defaults_except(&s, PATH);
    CHECK_EQ_STR(messages, "");
    free(messages);

    /* The longest path that fits. */
    static char longest[PATH_MAX];
    memset(longest, 'a', sizeof longest - 1);
    longest[0] = '/';
    longest[sizeof longest - 1] = '\0';
    set_table(longest, NULL, NULL, NULL, NULL);
    messages = load(&s);
    CHECK_EQ_STR(s.out_file_path, longest);
    CHECK_EQ_STR(messages, "");
    free(messages);

    set_table(NULL, "1000000", NULL, NULL, NULL);
    messages = load(&s);
    CHECK_EQ_U64(s.out_file_max_size, 1000000);
    check_defaults_except(&s, MAX_SIZE);
    CHECK_EQ_STR(messages, "");
    free(messages);

    set_table(NULL, "0x200", NULL, NULL, NULL);
    messages = load(&s);
    CHECK_EQ_U64(s.out_file_max_size, 512);
    check_defaults_except(&s, MAX_SIZE);
    CHECK_EQ_STR(messages, "");
    free(messages);

    set_table(NULL, NULL, "5", NULL, NULL);
    messages = load(&s);
    CHECK_EQ_U64(s.period_seconds, 5);
    check_defaults_except(&s, PERIOD);
    CHECK_EQ_STR(messages, "");
    free(messages);

    set_table(NULL, NULL, "31622400", NULL, NULL); /* 366 days, the maximum */
    messages = load(&s);
    CHECK_EQ_U64(s.period_seconds, 31622400u);
    CHECK_EQ_STR(messages, "");
    free(messages);

    set_table(NULL, NULL, NULL, "1", NULL);
    messages = load(&s);
    CHECK_EQ_U64(s.depth, 1);
    check_defaults_except(&s, DEPTH);
    CHECK_EQ_STR(messages, "");
    free(messages);

    set_table(NULL, NULL, NULL, "256", NULL);
    messages = load(&s);
    CHECK_EQ_U64(s.depth, SETTINGS_MAX_DEPTH);
    CHECK_EQ_STR(messages, "");
    free(messages);

    set_table(NULL, NULL, NULL, NULL, "0");
    messages = load(&s);
    CHECK_EQ_U64(s.symbols, false);
    check_defaults_except(&s, SYMBOLS);
    CHECK_EQ_STR(messages, "");
    free(messages);

    set_table(NULL, NULL, NULL, NULL, "1");
    messages = load(&s);
    CHECK_EQ_U64(s.symbols, true);
    CHECK_EQ_STR(messages, "");
    free(messages);

    /* All at once. */
    set_table("/x", "0X40", "3600", "64", "0");
    messages = load(&s);
    CHECK_EQ_STR(s.out_file_path, "/x");
    CHECK_EQ_U64(s.out_file_max_size, 64);
    CHECK_EQ_U64(s.period_seconds, 3600);
    CHECK_EQ_U64(s.depth, 64);
    CHECK_EQ_U64(s.symbols, false);
    CHECK_EQ_STR(messages, "");
    free(messages);
}

/* One invalid value: its default is kept, the others are untouched, and exactly one line
 * "malloc-trace: VARIABLE: ..." names it (quoting the value when quote is not NULL). */
static void expect_one_message(int variable, const char *value, const char *quote, int line)
{
    struct settings s;
    const char *values[VARIABLE_COUNT] = {NULL};
    values[variable] = value;
    set_table(values[0], values[1], values[2], values[3], values[4]);
    char *messages = load(&s);
    check_defaults_except(&s, -1);
    check_u64(check_count_lines(messages), 1, CHECK_EQ, value, "one line", __FILE__, line);
    char expected_prefix[128];
    snprintf(expected_prefix, sizeof expected_prefix, "malloc-trace: %s: ",
             variable_names[variable]);
    check_str(messages, expected_prefix, true, "message", expected_prefix, __FILE__, line);
    if (quote != NULL)
        check_contains(messages, quote, "message", quote, __FILE__, line);
    /* Every line is built in a 1 KiB buffer; a long value is cut to 64 bytes. */
    check_u64(strlen(messages), 300, CHECK_LE, "message length", "300", __FILE__, line);
    free(messages);
}

static void test_load_invalid_keeps_defaults(void)
{
    static char too_long[PATH_MAX + 1];
    memset(too_long, 'b', sizeof too_long - 1);
    too_long[0] = '/';
    too_long[sizeof too_long - 1] = '\0';
    static char long_garbage[5000];
    memset(long_garbage, 'z', sizeof long_garbage - 1);
    long_garbage[sizeof long_garbage - 1] = '\0';

    expect_one_message(PATH, "", "using /tmp/malloc-trace.csv", __LINE__);
    expect_one_message(PATH, too_long, "using /tmp/malloc-trace.csv", __LINE__);
    expect_one_message(MAX_SIZE, "0", "'0'", __LINE__);
    expect_one_message(MAX_SIZE, "12abc", "'12abc'", __LINE__);
    expect_one_message(MAX_SIZE, "-5", "'-5'", __LINE__);
    expect_one_message(MAX_SIZE, "0x", "'0x'", __LINE__);
    expect_one_message(MAX_SIZE, "18446744073709551616", "'18446744073709551616'", __LINE__);
    expect_one_message(MAX_SIZE, "", "''", __LINE__);
    expect_one_message(MAX_SIZE, long_garbage, "'zzzz", __LINE__);
    expect_one_message(PERIOD, "0", "'0'", __LINE__);
    expect_one_message(PERIOD, "31622401", "'31622401'", __LINE__);
    expect_one_message(PERIOD, "1m", "'1m'", __LINE__);
    expect_one_message(PERIOD, "+5", "'+5'", __LINE__);
    expect_one_message(DEPTH, "0", "'0'", __LINE__);
    expect_one_message(DEPTH, "257", "'257'", __LINE__);
    expect_one_message(DEPTH, " 8", "' 8'", __LINE__);
    expect_one_message(SYMBOLS, "yes", "'yes'", __LINE__);
    expect_one_message(SYMBOLS, "", "''", __LINE__);
    expect_one_message(SYMBOLS, "2", "'2'", __LINE__);
    expect_one_message(SYMBOLS, "00", "'00'", __LINE__);
    /* Control characters are shown, not sent: the message stays one line. */
    expect_one_message(DEPTH, "1\n2", "'1\\x0a2'", __LINE__);
    expect_one_message(MAX_SIZE, "\x1b[31m\r", "'\\x1b[31m\\x0d'", __LINE__);
    expect_one_message(PERIOD, "\x7f", "'\\x7f'", __LINE__);
}

/* Loads out_file_path given and checks it became expected, with no message. */
static void expect_path(const char *given, const char *expected, int line)
{
    struct settings s;
    set_table(given, NULL, NULL, NULL, NULL);
    char *messages = load(&s);
    check_str(s.out_file_path, expected, false, "out_file_path", "expected", __FILE__, line);
    check_str(messages, "", false, "messages", "none", __FILE__, line);
    free(messages);
}

/* A relative path is made absolute with the working directory at start, so that a program
 * that changes directory keeps writing the same file. */
static void test_load_relative_path(void)
{
    char start[PATH_MAX], directory[] = "/tmp/settings.XXXXXX", expected[PATH_MAX + 32];
    struct settings s;
    if (!CHECK_TRUE(getcwd(start, sizeof start) != NULL) || !CHECK_TRUE(mkdtemp(directory) != NULL))
        return;
    CHECK_EQ_U64(chdir(directory), 0);

    snprintf(expected, sizeof expected, "%s/trace.%%p.csv", directory);
    expect_path("trace.%p.csv", expected, __LINE__);
    free(load(&s));
    check_defaults_except(&s, PATH);
    snprintf(expected, sizeof expected, "%s/./sub/../t.csv", directory);
    expect_path("./sub/../t.csv", expected, __LINE__);

    /* Fits alone, not after the directory: kept relative, as given. */
    static char long_relative[PATH_MAX - 1];
    memset(long_relative, 'c', sizeof long_relative - 1);
    long_relative[sizeof long_relative - 1] = '\0';
    expect_path(long_relative, long_relative, __LINE__);

    /* A '%' in the directory would be read as part of %p: kept relative. */
    char percent[PATH_MAX + 8];
    snprintf(percent, sizeof percent, "%s/run%%pdir", directory);
    CHECK_EQ_U64(mkdir(percent, 0700), 0);
    CHECK_EQ_U64(chdir(percent), 0);
    expect_path("t.%p.csv", "t.%p.csv", __LINE__);
    CHECK_EQ_U64(chdir(directory), 0);
    CHECK_EQ_U64(rmdir(percent), 0);

    /* At the root, no second slash; the same path fits there. */
    CHECK_EQ_U64(chdir("/"), 0);
    expect_path("t.csv", "/t.csv", __LINE__);
    snprintf(expected, sizeof expected, "/%s", long_relative);
    expect_path(long_relative, expected, __LINE__);

    /* A working directory removed before start: kept relative, as given. */
    CHECK_EQ_U64(chdir(directory), 0);
    CHECK_EQ_U64(rmdir(directory), 0);
    expect_path("t.csv", "t.csv", __LINE__);
    CHECK_EQ_U64(chdir(start), 0);
}

static void test_load_all_invalid(void)
{
    struct settings s;
    set_table("", "12abc", "0", "1000", "true");
    table[REACHABLE] = "on";
    table[UNWIND] = "frames";
    char *messages = load(&s);
    table[REACHABLE] = NULL;
    table[UNWIND] = NULL;
    check_defaults_except(&s, -1);
    if (CHECK_EQ_U64(check_count_lines(messages), VARIABLE_COUNT)) {
        for (unsigned i = 0; i < VARIABLE_COUNT; i++) {
            char line[1100], prefix[128];
            check_line(messages, i, line, sizeof line);
            CHECK_PREFIX(line, "malloc-trace: ");
            /* In the order of the table of CONTRACT section 4. */
            snprintf(prefix, sizeof prefix, "malloc-trace: %s: ", variable_names[i]);
            CHECK_PREFIX(line, prefix);
        }
    }
    free(messages);

    /* Valid and invalid mixed: the valid ones are taken, one line per invalid one. */
    set_table("/ok.csv", "0x0", "90", "x", "0");
    messages = load(&s);
    CHECK_EQ_STR(s.out_file_path, "/ok.csv");
    CHECK_EQ_U64(s.out_file_max_size, 0x100000000ull);
    CHECK_EQ_U64(s.period_seconds, 90);
    CHECK_EQ_U64(s.depth, 32);
    CHECK_EQ_U64(s.symbols, false);
    if (CHECK_EQ_U64(check_count_lines(messages), 2)) {
        char line[1100];
        CHECK_PREFIX(check_line(messages, 0, line, sizeof line),
                     "malloc-trace: out_file_max_size: '0x0'");
        CHECK_PREFIX(check_line(messages, 1, line, sizeof line),
                     "malloc-trace: MALLOC_TRACE_DEPTH: 'x'");
    }
    free(messages);
}

static void test_check_names(void)
{
    char *environment[] = {"MALLOC_TRACE_DEPHT=5", "MALLOC_TRACE_DEPTH=5", "MALLOC_TRACE=/x",
                           "MALLOC_TRACE_RUN=1", "MALLOC_TRACE_SYMBOLS", "MALLOC_TRACE_=1",
                           "PATH=/bin", "MALLOC_TRACE_UNWIND_X=fp", NULL};
    struct stderr_capture capture;
    check_stderr_begin(&capture);
    settings_check_names(environment);
    settings_check_names(NULL);
    char *messages = check_stderr_end(&capture);
    const char *known = " is not a setting (MALLOC_TRACE_DEPTH, MALLOC_TRACE_SYMBOLS, "
                        "MALLOC_TRACE_UNWIND, MALLOC_TRACE_REACHABLE); ignored\n";
    char expected[1024];
    snprintf(expected, sizeof expected, "malloc-trace: MALLOC_TRACE_DEPHT%smalloc-trace: "
             "MALLOC_TRACE_%smalloc-trace: MALLOC_TRACE_UNWIND_X%s", known, known, known);
    CHECK_EQ_STR(messages, expected);
    free(messages);
}

int main(void)
{
    RUN_TEST(test_parse_size_decimal);
    RUN_TEST(test_parse_size_hex);
    RUN_TEST(test_parse_size_rejected);
    RUN_TEST(test_parse_unsigned);
    RUN_TEST(test_load_defaults);
    RUN_TEST(test_load_each_valid);
    RUN_TEST(test_load_invalid_keeps_defaults);
    RUN_TEST(test_load_relative_path);
    RUN_TEST(test_load_all_invalid);
    RUN_TEST(test_load_reachable);
    RUN_TEST(test_load_unwind);
    RUN_TEST(test_check_names);
    return check_exit_status();
}
