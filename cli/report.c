/* report.c: see report.h. */
#define _GNU_SOURCE
#include "report.h"

#include "flame_graph.h"
#include "options.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum format { FORMAT_TEXT, FORMAT_JSON, FORMAT_FOLDED, FORMAT_SVG };

/* A name as text output shows it: a control character (a newline, an escape sequence for
 * the terminal) as \xHH, so that a frame stays one line and nothing reaches the terminal. */
static void put_shown(FILE *out, const char *text)
{
    for (const unsigned char *c = (const unsigned char *)text; *c != '\0'; c++) {
        if (*c < 0x20 || *c == 0x7f)
            fprintf(out, "\\x%02x", *c);
        else
            fputc(*c, out);
    }
}

void report_frame_text(FILE *out, json_t *frame)
{
    const char *function = json_string_value(json_object_get(frame, "f"));
    const char *file = json_string_value(json_object_get(frame, "s"));
    json_int_t line = json_integer_value(json_object_get(frame, "l"));
    put_shown(out, function != NULL ? function : "?");
    if (file != NULL && file[0] != '\0') {
        fputs(" (", out);
        put_shown(out, file);
        fprintf(out, ":%" JSON_INTEGER_FORMAT ")", line);
    }
}

static void format_time(uint64_t ms, char *out, size_t size)
{
    time_t seconds = (time_t)(ms / 1000);
    struct tm utc;
    gmtime_r(&seconds, &utc);
    size_t used = strftime(out, size, "%Y-%m-%d %H:%M:%S", &utc);
    snprintf(out + used, size - used, ".%03u UTC", (unsigned)(ms % 1000));
}

void report_print_text(FILE *out, const struct outstanding *list, size_t count, size_t top)
{
    uint64_t bytes = 0, blocks = 0, orphans = 0;
    for (size_t i = 0; i < count; i++) {
        const struct aggregate *a = &list[i].stack->by_kind[list[i].kind];
        if (list[i].kind == KIND_ORPHAN_FREE) {
            orphans += a->count;
            continue;
        }
        bytes = bytes_add(bytes, a->bytes);
        blocks += a->count;
    }
    size_t shown = 0;
    for (size_t i = 0; i < count && shown < top; i++) {
        const struct aggregate *a = &list[i].stack->by_kind[list[i].kind];
        if (list[i].kind == KIND_ORPHAN_FREE)
            continue;
        char first[64], last[64];
        format_time(a->first_ms, first, sizeof first);
        format_time(a->last_ms, last, sizeof last);
        fprintf(out, "%s: %" PRIu64 " byte%s in %" PRIu64 " block%s, allocated %s%s%s\n",
               outstanding_kind_name(list[i].kind), a->bytes, plural(a->bytes), a->count,
               plural(a->count), first, a->count > 1 ? " to " : "",
               a->count > 1 ? last : "");
        size_t index;
        json_t *frame;
        json_array_foreach(list[i].stack->frames, index, frame) {
            fprintf(out, "    #%zu ", index);
            report_frame_text(out, frame);
            fputc('\n', out);
        }
        fputc('\n', out);
        shown++;
    }
    fprintf(out, "total: %" PRIu64 " byte%s outstanding in %" PRIu64 " block%s; %" PRIu64
           " orphan free%s\n",
           bytes, plural(bytes), blocks, plural(blocks), orphans, plural(orphans));
}

static void print_json(const struct outstanding *list, size_t count, size_t top)
{
    json_t *stacks = json_array();
    uint64_t bytes = 0, blocks = 0;
    size_t shown = 0;
    for (size_t i = 0; i < count; i++) {
        const struct aggregate *a = &list[i].stack->by_kind[list[i].kind];
        if (list[i].kind == KIND_ORPHAN_FREE)
            continue;
        bytes = bytes_add(bytes, a->bytes);
        blocks += a->count;
        if (shown++ >= top)
            continue;
        json_t *entry = json_pack("{s:s, s:I, s:I, s:I, s:I, s:O}", "kind",
                                  outstanding_kind_name(list[i].kind), "bytes",
                                  (json_int_t)a->bytes, "count", (json_int_t)a->count,
                                  "first_ms", (json_int_t)a->first_ms, "last_ms",
                                  (json_int_t)a->last_ms, "frames", list[i].stack->frames);
        json_array_append_new(stacks, entry);
    }
    json_t *document = json_pack("{s:I, s:I, s:o}", "total_bytes", (json_int_t)bytes,
                                 "total_blocks", (json_int_t)blocks, "stacks", stacks);
    json_dumpf(document, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    putchar('\n');
    json_decref(document);
}

/* Flame-graph input: one line per stack, its outstanding bytes of every kind together,
 * outermost frame first, frame 0 left out, ';' between frames (a ';' inside a name would
 * split it: it becomes ':'). */
static void print_folded(const struct outstanding *list, size_t count, size_t top)
{
    size_t shown = 0;
    for (size_t i = 0; i < count; i++)
        list[i].stack->listed = false;
    for (size_t i = 0; i < count && shown < top; i++) {
        struct stack *stack = list[i].stack;
        if (list[i].kind == KIND_ORPHAN_FREE || stack->listed)
            continue;
        stack->listed = true;
        size_t depth = json_array_size(stack->frames);
        for (size_t f = depth; f-- > 1;) {
            json_t *frame = json_array_get(stack->frames, f);
            const char *name = json_string_value(json_object_get(frame, "f"));
            for (const char *c = name != NULL ? name : "?"; *c; c++)
                putchar(*c == ';' || *c == '\n' ? ':' : *c);
            putchar(f > 1 ? ';' : ' ');
        }
        if (depth <= 1)
            fputs("[unknown] ", stdout);
        printf("%" PRIu64 "\n", bytes_add(bytes_add(stack->by_kind[KIND_LEAK].bytes,
                                                     stack->by_kind[KIND_INDIRECT].bytes),
                                           stack->by_kind[KIND_MALLOC].bytes));
        shown++;
    }
}

static const char usage[] =
    "usage: malloc-trace report [--top N] [--format text|json|folded|svg] FILE...\n";

int report_command(int argc, char **argv)
{
    static const struct option options[] = {{"top", required_argument, NULL, 't'},
                                            {"format", required_argument, NULL, 'f'},
                                            OPTION_HELP_LONG,
                                            {NULL, 0, NULL, 0}};
    static const char short_options[] = "h";
    size_t top = SIZE_MAX;
    enum format format = FORMAT_TEXT;
    int option;
    options_begin();
    while ((option = getopt_long(argc, argv, short_options, options, NULL)) != -1) {
        char *end;
        switch (option) {
        case 't':
            top = strtoul(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || *end != '\0') {
                fprintf(stderr, "malloc-trace report: --top takes a whole number, not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'f':
            if (strcmp(optarg, "text") == 0)
                format = FORMAT_TEXT;
            else if (strcmp(optarg, "json") == 0)
                format = FORMAT_JSON;
            else if (strcmp(optarg, "folded") == 0)
                format = FORMAT_FOLDED;
            else if (strcmp(optarg, "svg") == 0)
                format = FORMAT_SVG;
            else {
                fprintf(stderr, "malloc-trace report: --format is text, json, folded or svg, not "
                                "'%s'\n", optarg);
                return 2;
            }
            break;
        case OPTION_HELP:
            return options_help(usage);
        default:
            return options_refused("report", argv, short_options, options, usage);
        }
    }
    if (optind >= argc) {
        fputs(usage, stderr);
        return 2;
    }
    bool bad_input = false;
    struct trace_summary *summary = trace_summary_read(argv + optind, argc - optind, &bad_input);
    if (summary == NULL)
        return 2;
    size_t count;
    struct outstanding *list = trace_summary_list(summary, &count);
    if (format == FORMAT_JSON)
        print_json(list, count, top);
    else if (format == FORMAT_FOLDED)
        print_folded(list, count, top);
    else if (format == FORMAT_SVG)
        flame_graph_write(stdout, list, count, top);
    else
        report_print_text(stdout, list, count, top);
    free(list);
    trace_summary_free(summary);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "malloc-trace report: cannot write the report: %s\n", strerror(errno));
        return 2;
    }
    return bad_input ? 2 : 0;
}
