/* flame_graph.h: `malloc-trace report --format svg`: a self-contained flame graph of the
 * bytes outstanding (widths by bytes, a tooltip per frame with its bytes and blocks). */
#ifndef MALLOC_TRACE_CLI_FLAME_GRAPH_H
#define MALLOC_TRACE_CLI_FLAME_GRAPH_H

#include <stdio.h>

#include "trace_summary.h"

/* Draws the first top stacks of list (orphan frees left out). */
void flame_graph_write(FILE *out, const struct outstanding *list, size_t count, size_t top);

#endif
