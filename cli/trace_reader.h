/* trace_reader.h: reads trace files (CONTRACT section 5) line by line, in the order given,
 * checking each line; a malformed line is named on stderr (FILE:LINE: reason) and skipped. */
#ifndef MALLOC_TRACE_CLI_TRACE_READER_H
#define MALLOC_TRACE_CLI_TRACE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum row_kind { ROW_MALLOC, ROW_FREE, ROW_LEAK, ROW_INDIRECT, ROW_REACHABLE };

struct trace_row {
    enum row_kind kind;
    long thread_id;
    uint64_t address;
    uint64_t size;
    uint64_t timestamp_ms;
    const char *callstack; /* the JSON text as written; valid until the next row */
    size_t callstack_length;
    const char *file;
    unsigned long line;
};

/* Called for each well-formed row; callstack_is_new tells the callee to check the JSON. */
typedef void row_visitor(const struct trace_row *row, void *context);

/* Reads every file in order. Returns 0 when all were read whole, 2 when a file is missing
 * (reading stops: exit at once) or has bad lines (reading goes on). Messages on stderr. */
int trace_read_files(char *const *paths, int count, row_visitor *visit, void *context,
                     bool *stop_now);

/* For the visitor: a row it finds malformed (invalid callstack JSON). */
void trace_reader_reject(const struct trace_row *row, const char *reason);

/* The row's call stack parsed: a non-empty array of frames, each with a string "f" and "s"
 * and an integer "l", no key named twice; else NULL, the row rejected with the reason. The
 * caller owns the result. */
json_t *trace_reader_parse_stack(const struct trace_row *row);

#endif
