/* flusher.h: all output happens here, under one flush lock: the periodic pass in a thread
 * of its own, the first open at start, and the leak passes (at exit, and asked for by the
 * program), which the thread that asks runs, or the flusher thread for one under a seccomp
 * filter (see flusher.c). */
#ifndef MALLOC_TRACE_FLUSHER_H
#define MALLOC_TRACE_FLUSHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "settings.h"

/* Opens the file (a run with no event still leaves its header) and starts the thread. */
void flusher_start(const struct settings *settings);

/* Starts the thread if this process has none (the child of a fork). Cheap when it runs. */
void flusher_ensure_running(void);

/* Wakes the thread before its period ends (many free rows are queued). */
void flusher_wake(void);

/* Stops periodic passes and writes the exit rows; the calling thread's stack is a root from
 * caller_stack up (0: none). Without may_allocate (exit() from a signal handler that
 * interrupted the allocator) nothing is named that was not named before. */
void flusher_exit_pass(uintptr_t caller_stack, bool may_allocate);

/* malloc_trace_check_leaks: writes a row for each unreachable block not written before and
 * returns how many unreachable blocks there are (-1: after the exit pass, or no memory).
 * The calling thread's roots are its stack from caller_stack up and the copy of its
 * registers at caller_registers (see leak_scan.h). */
long flusher_check_leaks(uintptr_t caller_stack, const void *caller_registers,
                         size_t registers_size);

/* dlclose (see malloc_trace_on_dlclose_begin and _end in tracer.h): renders every stack
 * not rendered yet, then, after the real dlclose, forgets what each address was. */
void flusher_name_stacks(bool then_forget_addresses);

/* Before a chroot or a change of ids (see malloc_trace_before_access_change): the file
 * open, and given to the ids the process takes (see csv_writer_keep). */
void flusher_keep_file(uid_t user, gid_t group);

/* After a change of ids (see malloc_trace_after_id_change). */
void flusher_settle_file_owner(void);

/* fork: see live_table.h; the child has no flusher thread until flusher_ensure_running. */
void flusher_lock(void);
void flusher_unlock(void);
void flusher_reset_in_child(void);

/* In a child no fork handler saw (see process_mark.h): glibc, which did not clean up after
 * the parent's threads there, still lists the parent's flusher, whose descriptor lies at
 * the top of its stack; a flusher of the child's on that stack was listed twice, and the
 * list went round for ever (setgid and setgroups spun in the child, vsftpd's sessions). The
 * child's flusher takes a stack of its own; the parent's copy stays mapped, listed. */
void flusher_leave_parents_stack(void);

#endif
