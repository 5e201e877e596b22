/* proc_self.h: the tracer's files under /proc/self, opened with raw system calls (the leak
 * scan opens them while other threads are stopped), still reachable after the program goes
 * into a chroot (a daemon's privilege separation) through a descriptor of /proc/self taken
 * at start: in a chroot with no /proc, the leak scan could not read the process's mappings
 * nor list its threads, and wrote every block as a leak. */
#ifndef MALLOC_TRACE_PROC_SELF_H
#define MALLOC_TRACE_PROC_SELF_H

/* Takes the descriptor of /proc/self: at start, and again in a forked child (the one it
 * inherits names its parent's). */
void proc_self_hold(void);

/* proc_self_hold again where the program closed the descriptor (before a chroot: see
 * malloc_trace_before_access_change). */
void proc_self_keep(void);

/* Opens path, "/proc/self/..." or "/proc/thread-self/...", with O_RDONLY | O_CLOEXEC and
 * flags: by its path, or where that fails, under the descriptor taken at start (the
 * process's file for a thread's). -1 where neither works; errno kept. */
int proc_self_open(const char *path, int flags);

#endif
