/* check.c: see check.h. */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "options.h"
#include "report.h"
#include "trace_summary.h"
#include "xml_text.h"

struct suppressions {
    char **leak;
    size_t leak_count;
    char **free;
    size_t free_count;
};

/* LeakSanitizer's TemplateMatch, step for step (sanitizer_common), so that existing LSan
 * suppression files mean the same here: a leading '^' anchors at the start; each literal
 * run between '*' and '$' is found by its leftmost occurrence after the previous one, with
 * no backtracking; a '$' ends the pattern, and matches when the text ends there or a '*'
 * came just before. */
bool suppression_matches(const char *pattern, const char *text)
{
    if (text == NULL || text[0] == '\0')
        return false;
    bool anchored = false;
    if (pattern[0] == '^') {
        anchored = true;
        pattern++;
    }
    bool after_star = false;
    while (pattern[0] != '\0') {
        if (pattern[0] == '*') {
            pattern++;
            anchored = false;
            after_star = true;
            continue;
        }
        if (pattern[0] == '$')
            return text[0] == '\0' || after_star;
        if (text[0] == '\0')
            return false;
        size_t run = strcspn(pattern, "*$");
        const char *found = memmem(text, strlen(text), pattern, run);
        if (found == NULL || (anchored && found != text))
            return false;
        text = found + run;
        pattern += run;
        anchored = false;
        after_star = false;
    }
    return true;
}

static void free_suppressions(struct suppressions *suppressions)
{
    for (size_t i = 0; i < suppressions->leak_count; i++)
        free(suppressions->leak[i]);
    for (size_t i = 0; i < suppressions->free_count; i++)
        free(suppressions->free[i]);
    free(suppressions->leak);
    free(suppressions->free);
}

static void add_pattern(char ***list, size_t *count, const char *pattern)
{
    char **grown = realloc(*list, (*count + 1) * sizeof **list);
    if (grown == NULL || (grown[*count] = strdup(pattern)) == NULL) {
        fputs("malloc-trace: out of memory\n", stderr);
        exit(2);
    }
    *list = grown;
    (*count)++;
}

/* Bytes of a suppression line, its line end included. */
#define SUPPRESSION_LINE_LIMIT (1 << 20)

/* The next line of file into line (NUL-terminated, its line end kept); returns its bytes,
 * 0 at the end of the file, or more than SUPPRESSION_LINE_LIMIT for a line that long (not
 * read further). Not fgets: its line of NUL bytes (/dev/zero's) reads as empty. */
static size_t next_suppression_line(FILE *file, char *line)
{
    size_t length = 0;
    int c;
    while ((c = getc(file)) != EOF) {
        if (length == SUPPRESSION_LINE_LIMIT)
            return length + 1;
        line[length++] = (char)c;
        if (c == '\n')
            break;
    }
    line[length] = '\0';
    return length;
}

/* LeakSanitizer's format: `leak:PATTERN` (and `free:PATTERN`) a line, `#` comments. */
static bool read_suppressions(const char *path, struct suppressions *out)
{
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        fprintf(stderr, "malloc-trace check: %s: %s\n", path, strerror(errno));
        return false;
    }
    /* A line is read into room of a fixed size: a file of no line ends (/dev/zero) took
     * gigabytes. A pattern is a name or two (4,406 characters for a long C++ one). */
    static char line[SUPPRESSION_LINE_LIMIT + 1];
    unsigned long number = 0;
    bool good = true;
    size_t length;
    while ((length = next_suppression_line(file, line)) != 0) {
        number++;
        if (length > SUPPRESSION_LINE_LIMIT) {
            fprintf(stderr, "%s:%lu: the line is longer than %d MiB\n", path, number,
                    SUPPRESSION_LINE_LIMIT >> 20);
            good = false;
            break;
        }
        char *text = line + strspn(line, " \t");
        text[strcspn(text, "\r\n")] = '\0';
        for (size_t end = strlen(text); end > 0 && (text[end - 1] == ' ' || text[end - 1] == '\t');)
            text[--end] = '\0';
        if (text[0] == '\0' || text[0] == '#')
            continue;
        /* An empty pattern is LeakSanitizer's too: it matches every stack. */
        if (strncmp(text, "leak:", 5) == 0) {
            add_pattern(&out->leak, &out->leak_count, text + 5);
        } else if (strncmp(text, "free:", 5) == 0) {
            add_pattern(&out->free, &out->free_count, text + 5);
        } else {
            fprintf(stderr, "%s:%lu: not a suppression (leak:PATTERN or free:PATTERN)\n",
                    path, number);
            good = false;
        }
    }
    if (ferror(file)) { /* a directory reads as EISDIR */
        fprintf(stderr, "malloc-trace check: %s: %s\n", path, strerror(errno));
        good = false;
    }
    fclose(file);
    return good;
}

static bool stack_suppressed(json_t *frames, char **patterns, size_t count)
{
    size_t index;
    json_t *frame;
    json_array_foreach(frames, index, frame) {
        const char *fields[3] = {json_string_value(json_object_get(frame, "f")),
                                 json_string_value(json_object_get(frame, "s")),
                                 json_string_value(json_object_get(frame, "m"))};
        for (size_t p = 0; p < count; p++)
            for (int f = 0; f < 3; f++)
                if (fields[f] != NULL && fields[f][0] != '\0'
                    && suppression_matches(patterns[p], fields[f]))
                    return true;
    }
    return false;
}

static bool in_system_library(json_t *frame)
{
    const char *module = json_string_value(json_object_get(frame, "m"));
    return module != NULL && (strncmp(module, "/lib/", 5) == 0
                              || strncmp(module, "/usr/lib/", 9) == 0
                              || strncmp(module, "/lib64/", 7) == 0);
}

/* The allocation site: the first frame above the intercepted function that is not in a
 * system library (a block libc's strdup allocated for open_session is open_session's), else
 * frame 1. */
static void site_text(FILE *out, json_t *frames)
{
    size_t depth = json_array_size(frames);
    size_t site = depth > 1 ? 1 : 0;
    for (size_t i = 1; i < depth; i++) {
        if (!in_system_library(json_array_get(frames, i))) {
            site = i;
            break;
        }
    }
    report_frame_text(out, json_array_get(frames, site));
}

struct gate {
    uint64_t max_leaked_bytes;
    bool fail_on_free;
    const char *junit_path;
    struct suppressions suppressions;
};

/* error: NULL, or why there is no verdict, which a testcase of its own says as an <error>:
 * a suite of no failures must not pass a gate that exits 2 (nor an old file stay). */
static bool write_junit(const struct gate *gate, const struct outstanding *leaking,
                        size_t count, bool failed, const char *error)
{
    FILE *out = fopen(gate->junit_path, "w");
    if (out == NULL) {
        fprintf(stderr, "malloc-trace check: %s: %s\n", gate->junit_path, strerror(errno));
        return false;
    }
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<testsuite name=\"malloc-trace\" tests=\"%zu\" failures=\"%zu\" "
                 "errors=\"%d\">\n",
            count + (error != NULL), failed ? count : 0, error != NULL);
    if (error != NULL)
        fprintf(out, "  <testcase classname=\"malloc-trace\" name=\"input\">\n"
                     "    <error message=\"%s\"/>\n  </testcase>\n", error);
    for (size_t i = 0; i < count; i++) {
        const struct aggregate *a = &leaking[i].stack->by_kind[leaking[i].kind];
        fprintf(out, "  <testcase classname=\"malloc-trace.%s\" name=\"",
                outstanding_kind_name(leaking[i].kind));
        char *site = NULL;
        size_t site_length = 0;
        FILE *text = open_memstream(&site, &site_length);
        if (text != NULL) {
            site_text(text, leaking[i].stack->frames);
            fclose(text);
            xml_text_write(out, site, SIZE_MAX);
            free(site);
        }
        fputs("\">\n", out);
        if (failed) {
            fprintf(out, "    <failure message=\"%" PRIu64 " byte%s in %" PRIu64
                         " block%s (%s)\">", a->bytes, plural(a->bytes), a->count, plural(a->count),
                    outstanding_kind_name(leaking[i].kind));
            size_t index;
            json_t *frame;
            json_array_foreach(leaking[i].stack->frames, index, frame) {
                char *line = NULL;
                size_t line_length = 0;
                FILE *memory = open_memstream(&line, &line_length);
                if (memory == NULL)
                    continue;
                fprintf(memory, "\n#%zu ", index);
                report_frame_text(memory, frame);
                fclose(memory);
                xml_text_write(out, line, SIZE_MAX);
                free(line);
            }
            fputs("\n    </failure>\n", out);
        }
        fputs("  </testcase>\n", out);
    }
    fputs("</testsuite>\n", out);
    return fclose(out) == 0;
}

/* The gate's verdict on a summary read (bad_input: what trace_summary_read said of it); the
 * summary line goes to out. */
static int judge(struct gate *gate, struct trace_summary *summary, bool bad_input,
                 FILE *out)
{
    size_t total;
    struct outstanding *list = trace_summary_list(summary, &total);
    struct outstanding *leaking = calloc(total + 1, sizeof *leaking);
    size_t leaking_count = 0;
    uint64_t leaked = 0, blocks = 0, suppressed = 0, suppressed_blocks = 0;
    uint64_t orphans = 0, orphans_suppressed = 0;
    for (size_t i = 0; i < total; i++) {
        const struct aggregate *a = &list[i].stack->by_kind[list[i].kind];
        if (list[i].kind == KIND_ORPHAN_FREE) {
            if (stack_suppressed(list[i].stack->frames, gate->suppressions.free,
                                 gate->suppressions.free_count)) {
                orphans_suppressed += a->count;
            } else {
                orphans += a->count;
                if (gate->fail_on_free) /* then they fail the gate: the report shows them */
                    leaking[leaking_count++] = list[i];
            }
            continue;
        }
        if (stack_suppressed(list[i].stack->frames, gate->suppressions.leak,
                             gate->suppressions.leak_count)) {
            suppressed = bytes_add(suppressed, a->bytes);
            suppressed_blocks += a->count;
            continue;
        }
        leaked = bytes_add(leaked, a->bytes);
        blocks += a->count;
        leaking[leaking_count++] = list[i];
    }
    bool failed = leaked > gate->max_leaked_bytes || (gate->fail_on_free && orphans > 0);
    size_t leak_stacks = 0;
    for (size_t i = 0; i < leaking_count; i++)
        leak_stacks += leaking[i].kind != KIND_ORPHAN_FREE;
    fprintf(out, "malloc-trace check: %" PRIu64 " byte%s leaked in %" PRIu64
                 " block%s from %zu stack%s (allowed: %" PRIu64 "); %" PRIu64
                 " byte%s suppressed in %" PRIu64 " block%s; %" PRIu64 " orphan free%s (%" PRIu64
                 " suppressed)%s\n",
            leaked, plural(leaked), blocks, plural(blocks), leak_stacks, plural(leak_stacks),
            gate->max_leaked_bytes, suppressed, plural(suppressed), suppressed_blocks,
            plural(suppressed_blocks),
            orphans, plural(orphans), orphans_suppressed,
            bad_input ? "; the input is damaged: no verdict" : failed ? ": FAIL" : ": ok");
    for (size_t i = 0; i < leaking_count && i < 10; i++) {
        const struct aggregate *a = &leaking[i].stack->by_kind[leaking[i].kind];
        fprintf(out, "  %s %" PRIu64 " byte%s in %" PRIu64 " block%s at ",
                outstanding_kind_name(leaking[i].kind), a->bytes, plural(a->bytes), a->count,
                plural(a->count));
        site_text(out, leaking[i].stack->frames);
        fputc('\n', out);
    }
    if (leaking_count > 10)
        fprintf(out, "  ... and %zu more stacks (malloc-trace report lists them all)\n",
                leaking_count - 10);
    bool written = gate->junit_path == NULL
                   || write_junit(gate, leaking, leaking_count, failed,
                                  bad_input ? "the input is damaged: no verdict" : NULL);
    free(leaking);
    free(list);
    if (bad_input || !written)
        return 2;
    return failed ? 1 : 0;
}

/* Runs the gate over the files; the summary goes to out. */
static int run_gate(struct gate *gate, char *const *paths, int count, FILE *out)
{
    bool bad_input = false;
    struct trace_summary *summary = trace_summary_read(paths, count, &bad_input);
    if (summary == NULL) {
        if (gate->junit_path != NULL)
            write_junit(gate, NULL, 0, false, "a trace could not be read: no verdict");
        return 2;
    }
    int verdict = judge(gate, summary, bad_input, out);
    trace_summary_free(summary);
    return verdict;
}

int check_summary(struct trace_summary *summary, bool bad_input)
{
    struct gate gate = {0};
    return judge(&gate, summary, bad_input, stderr);
}

static const char usage[] = "usage: malloc-trace check FILE... [--suppressions FILE] "
                            "[--max-leaked-bytes N] [--fail-on-free] [--junit FILE]\n";

/* Whether path is the same file as one of paths. */
static bool is_one_of(const char *path, char **paths, int count)
{
    struct stat target, other;
    if (stat(path, &target) != 0)
        return false;
    for (int i = 0; i < count; i++)
        if (stat(paths[i], &other) == 0 && other.st_dev == target.st_dev
            && other.st_ino == target.st_ino)
            return true;
    return false;
}

int check_command(int argc, char **argv)
{
    static const struct option options[] = {
        {"suppressions", required_argument, NULL, 's'},
        {"max-leaked-bytes", required_argument, NULL, 'm'},
        {"fail-on-free", no_argument, NULL, 'f'},
        {"junit", required_argument, NULL, 'j'},
        OPTION_HELP_LONG,
        {NULL, 0, NULL, 0}};
    static const char short_options[] = "h";
    struct gate gate = {0};
    int option;
    int status = -1;
    options_begin();
    /* Options may follow the files, as in the usage line. */
    while (status < 0 && (option = getopt_long(argc, argv, short_options, options, NULL)) != -1) {
        char *end;
        switch (option) {
        case 's':
            if (!read_suppressions(optarg, &gate.suppressions))
                status = 2;
            break;
        case 'm':
            errno = 0;
            gate.max_leaked_bytes = strtoull(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || *end != '\0' || errno != 0) {
                fprintf(stderr, "malloc-trace check: --max-leaked-bytes takes a whole number "
                                "of bytes, not '%s'\n", optarg);
                status = 2;
            }
            break;
        case 'f':
            gate.fail_on_free = true;
            break;
        case 'j':
            gate.junit_path = optarg;
            break;
        case OPTION_HELP:
            status = options_help(usage);
            break;
        default:
            status = options_refused("check", argv, short_options, options, usage);
        }
    }
    if (status < 0 && optind >= argc) {
        fputs(usage, stderr);
        status = 2;
    }
    if (status < 0 && gate.junit_path != NULL
        && is_one_of(gate.junit_path, argv + optind, argc - optind)) {
        fprintf(stderr, "malloc-trace check: --junit %s would overwrite a trace it reads\n",
                gate.junit_path);
        status = 2;
    }
    if (status < 0)
        status = run_gate(&gate, argv + optind, argc - optind, stdout);
    if (fflush(stdout) != 0 || ferror(stdout)) { /* a gate whose summary is lost says so */
        fprintf(stderr, "malloc-trace check: cannot write the summary: %s\n", strerror(errno));
        status = 2;
    }
    free_suppressions(&gate.suppressions);
    return status;
}
