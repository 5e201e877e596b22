/* json_text.h: JSON text made safe for one field of a ';'-separated line. */
#ifndef MALLOC_TRACE_JSON_TEXT_H
#define MALLOC_TRACE_JSON_TEXT_H

/* Replaces each ';' of a JSON text by \u003b (only strings can hold one), so that the line
 * still splits on ';', and each DEL, the one control character jansson leaves raw, by
 * \u007f. Returns a malloc'd string, or NULL. */
char *json_text_for_csv(const char *json);

#endif
