/* check.h: `malloc-trace check`, the CI gate, and the suppressions it reads. */
#ifndef MALLOC_TRACE_CLI_CHECK_H
#define MALLOC_TRACE_CLI_CHECK_H

#include <stdbool.h>

struct trace_summary;

/* LeakSanitizer's matching: PATTERN is found in text as a substring, `*` matches any run of
 * characters, a leading `^` and a trailing `$` anchor it. Exposed for the tests. */
bool suppression_matches(const char *pattern, const char *text);

/* `malloc-trace check FILE... [--suppressions FILE] [--max-leaked-bytes N] [--fail-on-free]
 * [--junit FILE]`: 0 within the allowance, 1 not, 2 on bad input. */
int check_command(int argc, char **argv);

/* The gate with default options over a summary read (bad_input: as trace_summary_read set
 * it), as `run --fail-on-leak` uses it: the exit status check would give, its summary line
 * printed on stderr. */
int check_summary(struct trace_summary *summary, bool bad_input);

#endif
