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
};

/* False when the kernel refuses memory; the event is then lost (the caller says so once). */
bool event_log_push(struct event_log *log, const struct trace_event *event);
/* Moves every event of from to the end of to, leaving from empty. */
bool event_log_move_all(struct event_log *to, struct event_log *from);
void event_log_release(struct event_log *log);
/* Empties log, and gives its memory back when it has outgrown EVENT_LOG_KEPT_BYTES: a burst
 * of rows (a flush that found a million suspects, a million late frees) must not hold its
 * peak for the rest of a long-running process. */
void event_log_clear(struct event_log *log);
#define EVENT_LOG_KEPT_BYTES ((size_t)64 << 10)

#endif
