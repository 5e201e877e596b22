/* trace_summary.h: what remains of traces once each `malloc` row is settled (CONTRACT
 * section 6), grouped by call stack and kind. Memory grows with the distinct stacks and the
 * `malloc` rows not yet settled, never with the rows read. */
#ifndef MALLOC_TRACE_CLI_TRACE_SUMMARY_H
#define MALLOC_TRACE_CLI_TRACE_SUMMARY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum outstanding_kind { KIND_LEAK, KIND_INDIRECT, KIND_MALLOC, KIND_ORPHAN_FREE, KIND_COUNT };

/* Byte counts are sums of sizes whose total trace_summary_read keeps at most INT64_MAX,
 * rejecting the row that would pass it. The sums saturate all the same, as a guard: a
 * wrapped total is a small number that passes the gate, and a flame graph scaled by it
 * draws boxes wider than any number (trace_summary.c, check.c, report.c, flame_graph.c). */
static inline uint64_t bytes_add(uint64_t total, uint64_t bytes)
{
    return total > INT64_MAX || bytes > INT64_MAX - total ? INT64_MAX : total + bytes;
}

struct aggregate {
    uint64_t count;
    uint64_t bytes;
    uint64_t first_ms;
    uint64_t last_ms;
};

struct stack {
    char *text;    /* the callstack column as written */
    size_t length; /* of text */
    json_t *frames; /* parsed once */
    struct aggregate by_kind[KIND_COUNT];
    bool listed;        /* scratch for one listing (the folded report) */
    struct stack *next; /* in its hash bucket */
};

/* One stack and kind with something outstanding. */
struct outstanding {
    struct stack *stack;
    enum outstanding_kind kind;
};

struct trace_summary;

/* Reads the files; returns NULL only when a file is missing (exit 2 at once). *bad_input
 * is set when a line or file was malformed (the rest was still read). */
struct trace_summary *trace_summary_read(char *const *paths, int count, bool *bad_input);

/* Every stack and kind with something outstanding (leak, indirect, suspect malloc, orphan
 * free), biggest bytes first; *count_out entries. */
struct outstanding *trace_summary_list(struct trace_summary *summary, size_t *count_out);

const char *outstanding_kind_name(enum outstanding_kind kind);

void trace_summary_free(struct trace_summary *summary);

/* calloc, or the command's one line (malloc-trace: out of memory) and exit status 2. */
void *checked_calloc(size_t count, size_t size);

/* The ending of a noun counted by count: "" after 1, else "s". */
static inline const char *plural(uint64_t count)
{
    return count == 1 ? "" : "s";
}

#endif
