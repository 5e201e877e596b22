/* csv_writer.h: the output file of CONTRACT section 5: created 0600 with its header, never
 * through a symbolic link, only appended to when it is our own regular file, re-created
 * when moved or deleted, truncated when it would pass out_file_max_size. Rows are batched,
 * and every write(2) holds whole lines only. Used under the flush lock. */
#ifndef MALLOC_TRACE_CSV_WRITER_H
#define MALLOC_TRACE_CSV_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CSV_HEADER "function;thread_id;address;size;timestamp_ms;callstack\n"

void csv_writer_configure(const char *path_template, uint64_t max_size);

/* Opens (or re-opens) the file; false when it cannot be written now (said once). */
bool csv_writer_begin(void);

/* Adds one row; callstack_frames follows frame0 inside the JSON array. */
void csv_writer_row(const char *function, pid_t thread_id, uintptr_t address, uint64_t size,
                    uint64_t time_ms, const char *frame0, const char *callstack_frames);

/* Writes what is batched. */
void csv_writer_end(void);

/* Before a chroot or a change of the process's effective ids to user and group ((uid_t)-1,
 * (gid_t)-1: unchanged): opens the file if it is not held (a daemon closed it with every
 * descriptor it did not open; a forked child with %p has not opened its own yet), while the
 * process can still open it: after, it could not (no such path in the chroot, no right to
 * another user's directory or file). A file of this process's own (%p) is given to the ids
 * it takes, which the owner check of a later open (after exec, or in a worker that closed
 * it) asks for. */
void csv_writer_keep(uid_t user, gid_t group);

/* After the change of ids (which may have failed, or given root back: a daemon that runs as
 * a user for a while, seteuid and back): a file of this process's own (%p) held is given to
 * the effective ids the process has now, where it may give it (root may; after a drop the
 * file was given before). Left to the user, a root process could no longer open it (the
 * owner check), and that user could read it. */
void csv_writer_settle_owner(void);

/* In the child of a fork: with %p in the path, the next batch opens the child's own file;
 * without, the child goes on with the descriptor it shares with its parent. */
void csv_writer_reset_in_child(void);

/* The path with %p expanded for this process; exposed for the unit tests. */
void csv_writer_expand_path(const char *path_template, pid_t pid, char *out, size_t out_size);

#endif
