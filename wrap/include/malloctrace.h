/*
 * malloctrace.h: the runtime API of malloc-trace.
 *
 * Every function is declared weak, so a program built without the tracer still links
 * and runs: test the address before calling, for example
 *
 *     if (malloc_trace_ignore)
 *         malloc_trace_ignore(cache);
 *
 * Both forms (libmalloctrace.a linked with --wrap, malloc-trace.so preloaded) define them.
 */
#ifndef MALLOCTRACE_H
#define MALLOCTRACE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Never write a row for the block at ptr (it stays tracked: freeing it is no orphan free). */
__attribute__((weak)) void malloc_trace_ignore(const void *ptr);

/* Blocks the calling thread allocates until the matching malloc_trace_enable() get no row.
 * Calls nest. */
__attribute__((weak)) void malloc_trace_disable(void);
__attribute__((weak)) void malloc_trace_enable(void);

/* Classifies the live blocks now, as at exit: writes a `leak` or `indirect` row for each
 * unreachable block not written before, and returns how many unreachable blocks there are
 * (those written before included), 0 where nothing is traced (a set-user-ID program), -1
 * when it cannot run (after the exit pass, or out of memory). Other threads are stopped
 * meanwhile (see the README). */
__attribute__((weak)) long malloc_trace_check_leaks(void);

#ifdef __cplusplus
}
#endif

#endif
