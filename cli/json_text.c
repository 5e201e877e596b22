/* json_text.c: see json_text.h. */
#include "json_text.h"

#include <stdlib.h>
#include <string.h>

char *json_text_for_csv(const char *json)
{
    size_t escapes = 0;
    for (const char *c = json; *c; c++)
        escapes += *c == ';' || *c == 0x7f;
    size_t length = strlen(json);
    char *escaped = malloc(length + escapes * 5 + 1);
    if (escaped == NULL)
        return NULL;
    char *out = escaped;
    for (const char *c = json; *c; c++) {
        if (*c == ';' || *c == 0x7f) {
            memcpy(out, *c == ';' ? "\\u003b" : "\\u007f", 6);
            out += 6;
        } else {
            *out++ = *c;
        }
    }
    *out = '\0';
    return escaped;
}
