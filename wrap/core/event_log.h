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

#endif
