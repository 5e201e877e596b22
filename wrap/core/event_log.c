/* event_log.c: see event_log.h. */
#include "event_log.h"

#include <string.h>

#include "os.h"

/* Room for needed events, doubling (exactly needed when exact). */
static bool reserve(struct event_log *log, size_t needed, bool exact)
{
    if (needed <= log->capacity)
        return true;
    size_t capacity = log->capacity ? log->capacity : 4096 / sizeof(struct trace_event);
    while (capacity < needed)
        capacity *= 2;
    if (exact)
        capacity = needed;
    struct trace_event *events = os_map_grown(log->events, log->capacity * sizeof *events,
                                              log->count * sizeof *events,
                                              capacity * sizeof *events);
    if (events == NULL)
        return false;
    log->events = events;
    log->capacity = capacity;
    return true;
}

bool event_log_push(struct event_log *log, const struct trace_event *event)
{
    if (!reserve(log, log->count + 1, false)) {
        log->refused++;
        return false;
    }
    log->events[log->count++] = *event;
    return true;
}

bool event_log_move_all(struct event_log *to, struct event_log *from)
{
    to->refused += from->refused;
    from->refused = 0;
    if (from->count == 0)
        return true;
    if (!reserve(to, to->count + from->count, false)) {
        to->refused += from->count;
        from->count = 0;
        return false;
    }
    memcpy(to->events + to->count, from->events, from->count * sizeof *from->events);
    to->count += from->count;
    from->count = 0;
    return true;
}

void event_log_release(struct event_log *log)
{
    os_unmap(log->events, log->capacity * sizeof *log->events);
    log->events = NULL;
    log->count = log->capacity = 0;
}

void event_log_clear(struct event_log *log)
{
    if (log->capacity * sizeof *log->events > EVENT_LOG_KEPT_BYTES)
        event_log_release(log);
    log->count = 0;
}

bool event_log_hold(struct event_log *log, size_t count)
{
    /* Exactly: doubled past EVENT_LOG_KEPT_BYTES, the room event_log_clear keeps was unmapped
     * at each clear and mapped again. */
    return reserve(log, count, true);
}
