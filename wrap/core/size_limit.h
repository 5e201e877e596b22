/* size_limit.h: file writes and sizes under RLIMIT_FSIZE without its signal. A write or an
 * ftruncate that would pass the limit raises SIGXFSZ, whose default action kills the program;
 * the kernel sends it to the process, so that another thread takes it where the calling
 * thread blocks it. Used by the trace's writer and by the copy of a debug file. */
#ifndef MALLOC_TRACE_SIZE_LIMIT_H
#define MALLOC_TRACE_SIZE_LIMIT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* What the file fd may still take under the limit (SIZE_MAX: no limit, or it cannot say). A
 * call that starts at the limit raises the signal; one that the limit cuts short raises
 * nothing. */
size_t size_limit_room(int fd);

/* Around a call that may still pass the limit (another process may take the room, or lower
 * the limit, after size_limit_room): the signal blocked in this thread; after the call,
 * refused (it failed with EFBIG) takes back the signal it raised, then the mask is restored. */
void size_limit_hold(sigset_t *previous);
void size_limit_release(const sigset_t *previous, bool refused);

#endif
