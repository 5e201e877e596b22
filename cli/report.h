/* report.h: `malloc-trace report` and the summary `check` and `run` print. */
#ifndef MALLOC_TRACE_CLI_REPORT_H
#define MALLOC_TRACE_CLI_REPORT_H

#include <stdio.h>

#include "trace_summary.h"

/* Writes a frame as "function (file:line)", or "function" where the file is unknown. */
void report_frame_text(FILE *out, json_t *frame);

/* The text report: each outstanding stack, biggest first (at most top), then a total. */
void report_print_text(FILE *out, const struct outstanding *list, size_t count, size_t top);

/* `malloc-trace report [--top N] [--format text|json|folded] FILE...` */
int report_command(int argc, char **argv);

#endif
