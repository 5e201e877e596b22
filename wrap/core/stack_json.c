/* stack_json.c: see stack_json.h. Runs under the flush lock and the guard. */
#include "stack_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os.h"
#include "settings.h"
#include "stack_table.h"
#include "symbolizer.h"

#define ENTRY_POINT_NAME(id, name) [ENTRY_##id] = (name),
static const char *const entry_point_names[ENTRY_POINT_COUNT] = {
    MALLOC_TRACE_ENTRY_POINTS(ENTRY_POINT_NAME)};
#undef ENTRY_POINT_NAME

/* Frame 0 needs no naming, nor any memory: a row still has it when memory ran out. */
#define FRAME0_JSON(id, name) [ENTRY_##id] = "{\"f\":\"" name "\",\"s\":\"\",\"l\":0,\"m\":\"\"}",
static const char *const frame0_json[ENTRY_POINT_COUNT] = {MALLOC_TRACE_ENTRY_POINTS(FRAME0_JSON)};
#undef FRAME0_JSON

const char *stack_json_entry_point_name(enum entry_point entry_point)
{
    return entry_point_names[entry_point];
}

/* The length of the UTF-8 sequence at text, 0 where it is not one: the checks of jansson's
 * utf8_check_first and utf8_check_full (no overlong form, no surrogate, nothing past
 * U+10FFFF), so that a name is written as jansson wrote it. */
static size_t utf8_sequence(const unsigned char *text)
{
    size_t size = text[0] < 0x80 ? 1 : text[0] >= 0xc2 && text[0] <= 0xdf ? 2
                                   : text[0] >= 0xe0 && text[0] <= 0xef ? 3
                                   : text[0] >= 0xf0 && text[0] <= 0xf4 ? 4 : 0;
    if (size <= 1)
        return size;
    uint32_t value = text[0] & (0x7fu >> size);
    for (size_t i = 1; i < size; i++) {
        if (text[i] < 0x80 || text[i] > 0xbf)
            return 0;
        value = value << 6 | (text[i] & 0x3fu);
    }
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff) || value < least[size])
        return 0;
    return size;
}

static bool is_utf8(const char *text)
{
    for (const unsigned char *at = (const unsigned char *)text; *at;) {
        size_t size = utf8_sequence(at);
        if (size == 0)
            return false;
        at += size;
    }
    return true;
}

/* Writes text at out as a JSON string, as jansson's compact dump did (its escapes, \u00XX in
 * upper case for the other control characters), with ';' and DEL escaped as cli/json_text.h
 * says; a text that is not UTF-8 keeps its ASCII, and '?' for each other byte. Returns the
 * end; out has room for 6 bytes a byte of text, and 2. */
static char *write_string(char *out, const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    bool utf8 = is_utf8(text);
    *out++ = '"';
    for (const unsigned char *at = (const unsigned char *)text; *at; at++) {
        unsigned char byte = !utf8 && *at >= 0x80 ? '?' : *at;
        const char *escape = byte == '"'    ? "\\\""
                             : byte == '\\' ? "\\\\"
                             : byte == '\b'  ? "\\b"
                             : byte == '\f'  ? "\\f"
                             : byte == '\n'  ? "\\n"
                             : byte == '\r'  ? "\\r"
                             : byte == '\t'  ? "\\t"
                             : byte == ';'   ? "\\u003b"
                             : byte == 0x7f  ? "\\u007f"
                                             : NULL;
        if (escape != NULL) {
            out = stpcpy(out, escape);
        } else if (byte < 0x20) {
            out = stpcpy(out, "\\u00");
            *out++ = hex[byte >> 4];
            *out++ = hex[byte & 15];
        } else {
            *out++ = (char)byte;
        }
    }
    *out++ = '"';
    return out;
}

/* One frame object, compact, ';' escaped; malloc'd, or NULL. Written here rather than with
 * jansson: the traced program's own definitions come first in the symbol lookup, and
 * PostgreSQL's SQL function json_object took the tracer's calls (it crashed at its exit). */
char *stack_json_render_frame(const char *function, const char *file, int line,
                              const char *module)
{
    size_t room = 6 * (strlen(function) + strlen(file) + strlen(module)) + 64;
    char *frame = malloc(room);
    if (frame == NULL)
        return NULL;
    char *out = stpcpy(frame, "{\"f\":");
    out = write_string(out, function);
    out = stpcpy(out, ",\"s\":");
    out = write_string(out, file);
    out += sprintf(out, ",\"l\":%d,\"m\":", line);
    out = write_string(out, module);
    out[0] = '}';
    out[1] = '\0';
    return frame;
}

const char *stack_json_frame0(enum entry_point entry_point)
{
    return frame0_json[entry_point];
}

/* Return address -> its frames rendered, each led by a comma (several for inlined calls). */
struct cached_address {
    uintptr_t return_address; /* 0: empty slot */
    char *json;
};
static struct cached_address *address_cache;
static size_t address_cache_capacity;
static size_t address_cache_count;

static size_t address_slot(uintptr_t key, size_t capacity)
{
    return (size_t)(((uint64_t)key * 0x9e3779b97f4a7c15ull) >> 20) & (capacity - 1);
}

static void forget_address_cache(void)
{
    if (address_cache == NULL)
        return;
    os_leak_root_remove(address_cache, address_cache_capacity * sizeof *address_cache);
    os_unmap(address_cache, address_cache_capacity * sizeof *address_cache);
}

static bool grow_address_cache(void)
{
    size_t capacity = address_cache_capacity ? address_cache_capacity * 2 : 4096;
    struct cached_address *slots = os_map(capacity * sizeof *slots);
    if (slots == NULL)
        return false;
    os_leak_root_add(slots, capacity * sizeof *slots); /* the json it points to */
    for (size_t i = 0; i < address_cache_capacity; i++) {
        if (address_cache[i].return_address == 0)
            continue;
        size_t slot = address_slot(address_cache[i].return_address, capacity);
        while (slots[slot].return_address != 0)
            slot = (slot + 1) & (capacity - 1);
        slots[slot] = address_cache[i];
    }
    forget_address_cache();
    address_cache = slots;
    address_cache_capacity = capacity;
    return true;
}

/* The parts one after the other, each led by lead ("" for none), NULL parts skipped;
 * malloc'd, or NULL. */
static char *concatenate(const char *const *parts, size_t count, const char *lead)
{
    size_t lead_length = strlen(lead), total = 1;
    for (size_t i = 0; i < count; i++)
        total += parts[i] != NULL ? lead_length + strlen(parts[i]) : 0;
    char *joined = malloc(total);
    if (joined == NULL)
        return NULL;
    char *out = joined;
    for (size_t i = 0; i < count; i++) {
        if (parts[i] == NULL)
            continue;
        size_t length = strlen(parts[i]);
        memcpy(out, lead, lead_length);
        memcpy(out + lead_length, parts[i], length);
        out += lead_length + length;
    }
    *out = '\0';
    return joined;
}

static char *render_address(uintptr_t return_address, bool symbols)
{
    struct source_frame frames[MAX_INLINED_FRAMES];
    size_t count = symbolizer_describe(return_address, symbols, frames, MAX_INLINED_FRAMES);
    char *rendered[MAX_INLINED_FRAMES] = {0};
    for (size_t i = 0; i < count; i++)
        rendered[i] = stack_json_render_frame(frames[i].function, frames[i].file, frames[i].line,
                                   frames[i].module);
    char *json = concatenate((const char *const *)rendered, count, ",");
    for (size_t i = 0; i < count; i++)
        free(rendered[i]);
    return json;
}

/* The rendered frames of one return address, symbolized on first use; NULL when out of
 * memory. */
static const char *address_json(uintptr_t return_address, bool symbols)
{
    if ((address_cache_count + 1) * 2 > address_cache_capacity && !grow_address_cache())
        return NULL;
    size_t slot = address_slot(return_address, address_cache_capacity);
    while (address_cache[slot].return_address != 0) {
        if (address_cache[slot].return_address == return_address)
            return address_cache[slot].json;
        slot = (slot + 1) & (address_cache_capacity - 1);
    }
    char *json = render_address(return_address, symbols);
    if (json == NULL)
        return NULL;
    address_cache[slot].return_address = return_address;
    address_cache[slot].json = json;
    address_cache_count++;
    return json;
}

static void render_record(struct stack_record *record, bool symbols)
{
    const char *parts[SETTINGS_MAX_DEPTH] = {0};
    uint32_t depth = record->depth;
    if (depth > SETTINGS_MAX_DEPTH)
        depth = SETTINGS_MAX_DEPTH;
    for (uint32_t i = 0; i < depth; i++) {
        parts[i] = address_json((uintptr_t)record->frames[i], symbols);
        if (parts[i] == NULL)
            return; /* no memory: see render_unnamed */
    }
    record->json = concatenate(parts, depth, "");
}

/* The frames of a stack that memory ran out for (to name them, or to keep their text), or
 * that libdw cannot be given memory for: each as MODULE+0xOFFSET, the module found without
 * libdw, so that `malloc-trace symbolize` names it later; written here and not kept, so that
 * a later pass with memory names them. Dropped, they made the stack look shorter than it
 * was. A frame in no module, or one whose path does not fit, is its address in hex. */
#define ADDRESS_FRAME_JSON ",{\"f\":\"0x%llx\",\"s\":\"\",\"l\":0,\"m\":\"\"}"
#define ADDRESS_FRAME_ROOM sizeof(ADDRESS_FRAME_JSON "0123456789abcdef")
static char unnamed[SETTINGS_MAX_DEPTH * ADDRESS_FRAME_ROOM + (64 << 10)];

static bool unnamed_said, allocation_forbidden, short_of_room;

void stack_json_forbid_allocation(void)
{
    allocation_forbidden = true;
}

/* libdw does not return NULL when malloc fails in most of its paths: it ends the process
 * (error(EXIT_FAILURE, ENOMEM, "libdw")) or fails an assertion, and the program's exit
 * status and the rest of the pass were lost. A program near a limit on memory (`ulimit -v`)
 * gets its stacks as MODULE+0xOFFSET instead. Naming a small program's stacks took up to
 * 12 MiB here (libc's symbol table, libdw's sections and hash tables); larger programs take
 * more, hence the margin. */
#define NAMING_ROOM_BYTES ((size_t)32 << 20)

void stack_json_new_batch(void)
{
    symbolizer_new_batch();
    short_of_room = !os_has_room_for(NAMING_ROOM_BYTES);
}

/* One frame at out, with room left; keeps ADDRESS_FRAME_ROOM a frame for the frames_after. */
static size_t write_unnamed_frame(char *out, size_t room, uint32_t frames_after,
                                  uintptr_t return_address)
{
    uintptr_t address = return_address - 1; /* inside the call, as a named frame's */
    struct source_frame frame;
    if (symbolizer_describe_by_loader(address, !allocation_forbidden, &frame)
        && 6 * (strlen(frame.function) + strlen(frame.module)) + 64
                   + frames_after * ADDRESS_FRAME_ROOM <= room) {
        char *end = stpcpy(out, ",{\"f\":");
        end = write_string(end, frame.function);
        end = stpcpy(end, ",\"s\":\"\",\"l\":0,\"m\":");
        end = write_string(end, frame.module);
        end = stpcpy(end, "}");
        return (size_t)(end - out);
    }
    int length = snprintf(out, room, ADDRESS_FRAME_JSON, (unsigned long long)address);
    return length > 0 && (size_t)length < room ? (size_t)length : 0;
}

static const char *render_unnamed(const struct stack_record *record)
{
    if (!unnamed_said && !allocation_forbidden) {
        unnamed_said = true;
        if (short_of_room)
            os_message("less than %zu MiB of memory left to read debug information: stacks not "
                       "named before are written as MODULE+0xOFFSET",
                       NAMING_ROOM_BYTES >> 20);
        else
            os_message("out of memory to name frames: some stacks are written as "
                       "MODULE+0xOFFSET");
    }
    size_t used = 0;
    uint32_t depth = record->depth;
    if (depth > SETTINGS_MAX_DEPTH)
        depth = SETTINGS_MAX_DEPTH;
    for (uint32_t i = 0; i < depth; i++)
        used += write_unnamed_frame(unnamed + used, sizeof unnamed - used, depth - i - 1,
                                    (uintptr_t)record->frames[i]);
    unnamed[used] = '\0';
    return unnamed;
}

const char *stack_json_frames(uint32_t stack_id, bool symbols)
{
    if (stack_id == STACK_ID_EMPTY)
        return "";
    struct stack_record *record = stack_table_get(stack_id);
    if (record->json == NULL && !allocation_forbidden && !short_of_room)
        render_record(record, symbols);
    return record->json != NULL ? record->json : render_unnamed(record);
}

static void render_if_new(uint32_t id, struct stack_record *record, void *symbols)
{
    (void)id;
    if (record->json == NULL)
        render_record(record, *(bool *)symbols);
}

void stack_json_render_all(bool symbols)
{
    stack_json_new_batch();
    if (!short_of_room)
        stack_table_for_each(render_if_new, &symbols);
}

void stack_json_forget_addresses(void)
{
    for (size_t i = 0; i < address_cache_capacity; i++)
        free(address_cache[i].json);
    forget_address_cache();
    address_cache = NULL;
    address_cache_capacity = address_cache_count = 0;
    symbolizer_forget_modules();
}
