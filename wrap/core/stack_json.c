/* stack_json.c: see stack_json.h. Runs under the flush lock and the guard. */
#include "stack_json.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "settings.h"
#include "stack_table.h"
#include "symbolizer.h"

#define ENTRY_POINT_NAME(id, name) [ENTRY_##id] = (name),
static const char *const entry_point_names[ENTRY_POINT_COUNT] = {
    MALLOC_TRACE_ENTRY_POINTS(ENTRY_POINT_NAME)};
#undef ENTRY_POINT_NAME

static char *frame0_cache[ENTRY_POINT_COUNT];

const char *stack_json_entry_point_name(enum entry_point entry_point)
{
    return entry_point_names[entry_point];
}

char *stack_json_escape_semicolons(const char *json)
{
    size_t semicolons = 0;
    for (const char *c = json; *c; c++)
        semicolons += *c == ';';
    size_t length = strlen(json);
    char *escaped = malloc(length + semicolons * 5 + 1);
    if (escaped == NULL)
        return NULL;
    char *out = escaped;
    for (const char *c = json; *c; c++) {
        if (*c == ';') {
            memcpy(out, "\\u003b", 6);
            out += 6;
        } else {
            *out++ = *c;
        }
    }
    *out = '\0';
    return escaped;
}

/* jansson accepts only UTF-8: a name or path with other bytes keeps its ASCII and gets '?'
 * for each byte that does not decode. */
static json_t *json_text(const char *text)
{
    json_t *string = json_string(text);
    if (string != NULL)
        return string;
    size_t length = strlen(text);
    char *ascii = malloc(length + 1);
    if (ascii == NULL)
        return json_string("?");
    for (size_t i = 0; i <= length; i++) {
        ascii[i] = text[i];
        if ((unsigned char)text[i] >= 0x80)
            ascii[i] = '?';
    }
    string = json_string(ascii);
    free(ascii);
    return string;
}

/* One frame object, compact, ';' escaped; malloc'd, or NULL. */
static char *render_frame(const char *function, const char *module)
{
    json_t *frame = json_object();
    if (frame == NULL)
        return NULL;
    json_object_set_new(frame, "f", json_text(function));
    json_object_set_new(frame, "s", json_string(""));
    json_object_set_new(frame, "l", json_integer(0));
    json_object_set_new(frame, "m", json_text(module));
    char *dumped = json_dumps(frame, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(frame);
    if (dumped == NULL)
        return NULL;
    char *escaped = stack_json_escape_semicolons(dumped);
    free(dumped);
    return escaped;
}

const char *stack_json_frame0(enum entry_point entry_point)
{
    if (frame0_cache[entry_point] == NULL)
        frame0_cache[entry_point] = render_frame(entry_point_names[entry_point], "");
    return frame0_cache[entry_point] != NULL ? frame0_cache[entry_point]
                                             : "{\"f\":\"?\",\"s\":\"\",\"l\":0,\"m\":\"\"}";
}

const char *stack_json_frames(uint32_t stack_id, bool symbols)
{
    if (stack_id == STACK_ID_EMPTY)
        return "";
    struct stack_record *record = stack_table_get(stack_id);
    if (record->json != NULL)
        return record->json;

    char *rendered[SETTINGS_MAX_DEPTH];
    size_t total = 1;
    uint32_t depth = record->depth;
    if (depth > SETTINGS_MAX_DEPTH)
        depth = SETTINGS_MAX_DEPTH;
    for (uint32_t i = 0; i < depth; i++) {
        struct frame_name name;
        symbolizer_name((uintptr_t)record->frames[i], symbols, &name);
        rendered[i] = render_frame(name.function, name.module);
        total += rendered[i] != NULL ? strlen(rendered[i]) + 1 : 0;
    }
    char *json = malloc(total);
    if (json != NULL) {
        char *out = json;
        for (uint32_t i = 0; i < depth; i++) {
            if (rendered[i] == NULL)
                continue;
            size_t length = strlen(rendered[i]);
            *out++ = ',';
            memcpy(out, rendered[i], length);
            out += length;
        }
        *out = '\0';
    }
    for (uint32_t i = 0; i < depth; i++)
        free(rendered[i]);
    record->json = json;
    return json != NULL ? json : "";
}
