/* pass_stack.h: a stack of the tracer's own, for the passes that run on a program's thread
 * (the exit pass, malloc_trace_check_leaks). Naming a stack's frames takes libdw 160 to
 * 190 KiB of stack: a program that set RLIMIT_STACK to 128 KiB (or runs under `ulimit -s`)
 * had its main thread end in a segmentation fault at exit, where the pass ran on its stack. */
#ifndef MALLOC_TRACE_PASS_STACK_H
#define MALLOC_TRACE_PASS_STACK_H

/* Reserves the stack (address space only, committed at the first pass): at start, since a
 * program may later set a limit on address space that leaves no room for it. */
void pass_stack_reserve(void);

/* Calls run(argument) on the stack when there is one, else on the caller's. Not reentrant:
 * the callers hold the flush lock. */
void pass_stack_run(void (*run)(void *), void *argument);

#endif
