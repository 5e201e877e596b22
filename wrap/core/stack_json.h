/* stack_json.h: the callstack column, rendered with jansson. A stack's frames above frame 0
 * are rendered once and kept in its record; frame 0, the entry point, once per entry point. */
#ifndef MALLOC_TRACE_STACK_JSON_H
#define MALLOC_TRACE_STACK_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include "entry_points.h"

/* `{"f":NAME,"s":"","l":0,"m":""}` for the entry point, never NULL. */
const char *stack_json_frame0(enum entry_point entry_point);

/* The frames of a stack as comma-separated JSON objects (no brackets; "" for the empty
 * stack), each led by a comma, never NULL. */
const char *stack_json_frames(uint32_t stack_id, bool symbols);

/* The name frame 0 gets for an entry point. */
const char *stack_json_entry_point_name(enum entry_point entry_point);

/* Replaces each ';' of a JSON text by \u003b (only strings can hold one), so that the line
 * still splits on ';'. Returns a malloc'd string, or NULL. Exposed for the unit tests. */
char *stack_json_escape_semicolons(const char *json);

#endif
