/* operator_chains.h: where libstdc++'s operators that call another operator lead, and
 * whether that chain reaches one the program defines. See malloc_trace_programs_operator in
 * tracer.h. */
#ifndef MALLOC_TRACE_OPERATOR_CHAINS_H
#define MALLOC_TRACE_OPERATOR_CHAINS_H

#include <stdbool.h>

/* Looks every chain up, once: at the tracer's start, before the program runs (dlsym takes
 * the loader's lock, which a thread inside dlopen may hold while it waits for another). */
void operator_chains_find(void);

/* Whether an operator's definition is the program's own: the executable's or a library's,
 * not libstdc++'s (whose operators allocate with malloc and free with free). In a static
 * link, libstdc++'s lie in the executable and count as the program's. */
bool operator_chains_is_programs(const void *function);

#endif
