/* process_mark.h: whether the process is the one the tracer's state was set up for. A child
 * made by the clone system call itself, without CLONE_VM (vsftpd makes each session so, to
 * give it namespaces of its own), runs no fork handler: it had a copy of the tracer's state
 * with its parent's thread id, its parent's file where the path has %p, and no flusher. The
 * mark lies in a page the kernel empties in every child (MADV_WIPEONFORK, Linux 4.14): the
 * fork handler sets it again in a child it sees, so it reads 0 only in a child it did not.
 * Without that kernel feature it always reads set. */
#ifndef MALLOC_TRACE_PROCESS_MARK_H
#define MALLOC_TRACE_PROCESS_MARK_H

#include <stdatomic.h>
#include <stdbool.h>

extern _Atomic unsigned char *process_mark;

/* At start (making the page), and in a forked child. */
void process_mark_set(void);

/* Inline: every hook asks. */
static inline bool process_mark_is_set(void)
{
    return atomic_load_explicit(process_mark, memory_order_relaxed) != 0;
}

#endif
