/* operator_chains.h: where libstdc++'s operators that call another operator lead, and
 * whether that chain reaches one the program defines. See malloc_trace_programs_operator in
 * tracer.h. */
#ifndef MALLOC_TRACE_OPERATOR_CHAINS_H
#define MALLOC_TRACE_OPERATOR_CHAINS_H

/* Looks every chain up, once: at the tracer's start, before the program runs (dlsym takes
 * the loader's lock, which a thread inside dlopen may hold while it waits for another). */
void operator_chains_find(void);

#endif
