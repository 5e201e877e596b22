/* stack_json.h: the callstack column. A stack's frames above frame 0
 * are rendered once and kept in its record; frame 0, the entry point, is a constant. */
#ifndef MALLOC_TRACE_STACK_JSON_H
#define MALLOC_TRACE_STACK_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include "entry_points.h"

/* `{"f":NAME,"s":"","l":0,"m":""}` for the entry point, never NULL. */
const char *stack_json_frame0(enum entry_point entry_point);

/* The frames of a stack as JSON objects, each led by a comma (no brackets; "" for the empty
 * stack), inlined calls expanded; never NULL. Each distinct return address is symbolized
 * once, each distinct stack rendered once. Without memory for that (or with too little left
 * for libdw), each frame as MODULE+0xOFFSET, valid until the next call. */
const char *stack_json_frames(uint32_t stack_id, bool symbols);

/* Before a batch of rows: the modules may be re-read once, and whether there is memory
 * enough left to name stacks at all is looked at again. */
void stack_json_new_batch(void);

/* From here on, no stack is rendered (rendering allocates): a stack not rendered before is
 * written as MODULE+0xOFFSET. */
void stack_json_forbid_allocation(void);

/* Before a dlclose: renders every stack not rendered yet, while its modules are mapped. */
void stack_json_render_all(bool symbols);

/* After a dlclose: forgets what each address was, since another module may be mapped at the
 * same address next (stacks already rendered keep their text). */
void stack_json_forget_addresses(void);

/* One frame as the column holds it, `{"f":...,"s":...,"l":LINE,"m":...}`: malloc'd, or NULL. */
char *stack_json_render_frame(const char *function, const char *file, int line,
                              const char *module);

/* The name frame 0 gets for an entry point. */
const char *stack_json_entry_point_name(enum entry_point entry_point);

#endif
