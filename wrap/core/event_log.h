/* event_log.h: a growable array of rows waiting to be written, in memory from mmap. */
#ifndef MALLOC_TRACE_EVENT_LOG_H
#define MALLOC_TRACE_EVENT_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "events.h"

struct event_log {
    struct trace_event *events;
    size_t count;
    size_t capacity;
    size_t refused; /* events lost for want of memory, for the writer to tell */
};

/* False when the kernel refuses memory; the event is then lost, and counted in refused. */
bool event_log_push(struct event_log *log, const struct trace_event *event);
/* Moves every event of from to the end of to, and its count of refused, leaving from
 * empty: with no memory for them, its events are lost and counted in to's refused. */
bool event_log_move_all(struct event_log *to, struct event_log *from);
void event_log_release(struct event_log *log);
/* Empties log, and gives its memory back when it has outgrown EVENT_LOG_KEPT_BYTES: a burst
 * of rows (a flush that found a million suspects, a million late frees) must not hold its
 * peak for the rest of a long-running process. */
void event_log_clear(struct event_log *log);
/* Makes room for count events; false when the kernel refuses memory. */
bool event_log_hold(struct event_log *log, size_t count);
#define EVENT_LOG_KEPT_BYTES ((size_t)64 << 10)

#endif
