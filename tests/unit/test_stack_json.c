/* test_stack_json.c: the callstack column's JSON (stack_json.h): ';' escaping, frame 0 per
 * entry point, and the frames of an interned stack named by the symbolizer. */
#define _GNU_SOURCE
#include <elf.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "entry_points.h"
#include "json_text.h"
#include "stack_json.h"
#include "stack_table.h"

static void check_escape(const char *json, const char *expected, int line)
{
    char *escaped = json_text_for_csv(json);
    check_str(escaped, expected, false, json, expected, __FILE__, line);
    free(escaped);
}
#define CHECK_ESCAPE(json, expected) check_escape(json, expected, __LINE__)

static void test_escape_semicolons(void)
{
    CHECK_ESCAPE("a;b", "a\\u003bb");
    CHECK_ESCAPE("", "");
    CHECK_ESCAPE("{\"f\":\"malloc\"}", "{\"f\":\"malloc\"}");
    CHECK_ESCAPE(";", "\\u003b");
    CHECK_ESCAPE(";;", "\\u003b\\u003b");
    CHECK_ESCAPE("a\x7f" "b", "a\\u007fb");
    CHECK_ESCAPE(";a;", "\\u003ba\\u003b");
    CHECK_ESCAPE("{\"f\":\"f(std::map<int;int>)\"}", "{\"f\":\"f(std::map<int\\u003bint>)\"}");

    /* A fresh copy even when nothing changes. */
    const char *plain = "no semicolon";
    char *copy = json_text_for_csv(plain);
    if (CHECK(copy != NULL)) {
        CHECK(copy != plain);
        CHECK_EQ_STR(copy, plain);
    }
    free(copy);

    /* Long text with many semicolons: every one escaped, nothing else changed. */
    static char many[3001], expected[3001 * 6];
    size_t e = 0;
    for (size_t i = 0; i < 3000; i++) {
        many[i] = i % 3 == 0 ? ';' : (char)('a' + i % 26);
        if (many[i] == ';') {
            memcpy(expected + e, "\\u003b", 6);
            e += 6;
        } else {
            expected[e++] = many[i];
        }
    }
    many[3000] = '\0';
    expected[e] = '\0';
    CHECK_ESCAPE(many, expected);
}

static void test_entry_point_names(void)
{
    CHECK_EQ_STR(stack_json_entry_point_name(ENTRY_MALLOC), "malloc");
    CHECK_EQ_STR(stack_json_entry_point_name(ENTRY_FREE), "free");
    CHECK_EQ_STR(stack_json_entry_point_name(ENTRY_VASPRINTF), "vasprintf");
    CHECK_EQ_STR(stack_json_entry_point_name(ENTRY_GET_CURRENT_DIR_NAME), "get_current_dir_name");
    CHECK_EQ_STR(stack_json_entry_point_name(ENTRY_NEW), "operator new(unsigned long)");
    CHECK_EQ_STR(stack_json_entry_point_name(ENTRY_NEW_ARRAY_ALIGNED_NOTHROW),
                 "operator new[](unsigned long, std::align_val_t, std::nothrow_t const&)");
    CHECK_EQ_STR(stack_json_entry_point_name(ENTRY_DELETE), "operator delete(void*)");
    CHECK_EQ_STR(stack_json_entry_point_name(ENTRY_DELETE_ARRAY_SIZED_ALIGNED),
                 "operator delete[](void*, unsigned long, std::align_val_t)");

    /* Every entry point has a name of its own. */
    unsigned missing = 0, duplicates = 0;
    for (int i = 0; i < ENTRY_POINT_COUNT; i++) {
        const char *name = stack_json_entry_point_name((enum entry_point)i);
        if (name == NULL || name[0] == '\0') {
            missing++;
            continue;
        }
        for (int j = 0; j < i; j++)
            duplicates += strcmp(name, stack_json_entry_point_name((enum entry_point)j)) == 0;
    }
    CHECK_EQ_U64(missing, 0);
    CHECK_EQ_U64(duplicates, 0);
    CHECK_EQ_U64(ENTRY_POINT_COUNT, 40);
}

static void test_frame0(void)
{
    CHECK_EQ_STR(stack_json_frame0(ENTRY_MALLOC), "{\"f\":\"malloc\",\"s\":\"\",\"l\":0,\"m\":\"\"}");
    CHECK_EQ_STR(stack_json_frame0(ENTRY_NEW),
                 "{\"f\":\"operator new(unsigned long)\",\"s\":\"\",\"l\":0,\"m\":\"\"}");
    CHECK_EQ_STR(stack_json_frame0(ENTRY_DELETE_NOTHROW),
                 "{\"f\":\"operator delete(void*, std::nothrow_t const&)\",\"s\":\"\",\"l\":0,"
                 "\"m\":\"\"}");
    /* A constant: the same text every time. */
    CHECK_EQ_PTR(stack_json_frame0(ENTRY_CALLOC), stack_json_frame0(ENTRY_CALLOC));

    unsigned wrong = 0;
    for (int i = 0; i < ENTRY_POINT_COUNT; i++) {
        char expected[256];
        snprintf(expected, sizeof expected, "{\"f\":\"%s\",\"s\":\"\",\"l\":0,\"m\":\"\"}",
                 stack_json_entry_point_name((enum entry_point)i));
        if (!CHECK_EQ_STR(stack_json_frame0((enum entry_point)i), expected))
            wrong++;
    }
    CHECK_EQ_U64(wrong, 0);
}

/* ---- frames of a stack ---------------------------------------------------------------- */

/* Two functions of this program whose names, files and lines the symbolizer must find: the
 * look-up lands on their first instruction, which (built at -O1, no prologue) belongs to the
 * line of their asm statement. */
static const int marker_one_line = __LINE__ + 3;
__attribute__((noinline, used)) void stack_json_test_marker_one(void)
{
    __asm__ volatile("nop; nop; nop; nop");
}
static const int marker_two_line = __LINE__ + 3;
__attribute__((noinline, used)) void stack_json_test_marker_two(void)
{
    __asm__ volatile("nop; nop; nop; nop; nop; nop"); /* not foldable into the other one */
}

extern char __executable_start[];

static void test_frames(void)
{
    CHECK_EQ_STR(stack_json_frames(STACK_ID_EMPTY, true), "");
    CHECK_EQ_STR(stack_json_frames(STACK_ID_EMPTY, false), "");

    char exe[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (!CHECK(length > 0))
        return;
    exe[length] = '\0';

    /* Return addresses just past the start of each function: the look-up is of the byte
     * before, inside the function. */
    void *frames[2] = {(void *)((uintptr_t)stack_json_test_marker_one + 2),
                       (void *)((uintptr_t)stack_json_test_marker_two + 2)};
    uint32_t id = stack_table_intern(frames, 2);
    const char *json = stack_json_frames(id, true);
    /* The frames as the trace holds them, inside the array after frame 0. */
    char array[4 * PATH_MAX + 512];
    snprintf(array, sizeof array, "[%s]", json + 1);
    json_error_t error;
    json_t *parsed = json_loads(array, 0, &error);
    if (!CHECK(parsed != NULL) || !CHECK_EQ_U64(json_array_size(parsed), 2))
        return;
    const char *names[2] = {"stack_json_test_marker_one", "stack_json_test_marker_two"};
    const int lines[2] = {marker_one_line, marker_two_line};
    for (size_t i = 0; i < 2; i++) {
        json_t *frame = json_array_get(parsed, i);
        CHECK_EQ_STR(json_string_value(json_object_get(frame, "f")), names[i]);
        const char *source = json_string_value(json_object_get(frame, "s"));
        CHECK(source != NULL && source[0] == '/');
        CHECK(source != NULL && strlen(source) > strlen("/tests/unit/test_stack_json.c")
              && strcmp(source + strlen(source) - strlen("/tests/unit/test_stack_json.c"),
                        "/tests/unit/test_stack_json.c") == 0);
        CHECK_EQ_U64(json_integer_value(json_object_get(frame, "l")), lines[i]);
        CHECK_EQ_STR(json_string_value(json_object_get(frame, "m")), exe);
    }
    json_decref(parsed);
    char expected[2 * PATH_MAX + 256];
    /* Rendered once, kept in the stack's record. */
    CHECK_EQ_PTR(stack_json_frames(id, true), json);
    CHECK_EQ_PTR(stack_table_get(id)->json, json);

    /* Without symbols: MODULE+0xOFFSET, the offset in the file's address space. */
    const Elf64_Ehdr *header = (const Elf64_Ehdr *)__executable_start;
    uintptr_t bias = header->e_type == ET_DYN ? (uintptr_t)__executable_start : 0;
    void *frame = (void *)((uintptr_t)stack_json_test_marker_one + 3); /* not yet cached */
    uint32_t id_plain = stack_table_intern(&frame, 1);
    snprintf(expected, sizeof expected,
             ",{\"f\":\"%s+0x%llx\",\"s\":\"\",\"l\":0,\"m\":\"%s\"}", exe,
             (unsigned long long)((uintptr_t)frame - 1 - bias), exe);
    CHECK_EQ_STR(stack_json_frames(id_plain, false), expected);

    /* An address in no module: 0xADDRESS, and no module. */
    void *nowhere = (void *)(uintptr_t)0x10001;
    uint32_t id_nowhere = stack_table_intern(&nowhere, 1);
    CHECK_EQ_STR(stack_json_frames(id_nowhere, true),
                 ",{\"f\":\"0x10000\",\"s\":\"\",\"l\":0,\"m\":\"\"}");
}

/* What jansson wrote for a frame before the tracer wrote it itself (a text that is not UTF-8
 * kept its ASCII, '?' for each other byte), ';' and DEL then escaped. */
static char *frame_by_jansson(const char *function, const char *file, int line,
                              const char *module)
{
    const char *texts[3] = {function, file, module};
    json_t *strings[3];
    for (int i = 0; i < 3; i++) {
        strings[i] = json_string(texts[i]);
        if (strings[i] == NULL) {
            char *ascii = strdup(texts[i]);
            for (char *c = ascii; *c; c++)
                if ((unsigned char)*c >= 0x80)
                    *c = '?';
            strings[i] = json_string(ascii);
            free(ascii);
        }
    }
    json_t *frame = json_object();
    json_object_set_new(frame, "f", strings[0]);
    json_object_set_new(frame, "s", strings[1]);
    json_object_set_new(frame, "l", json_integer(line));
    json_object_set_new(frame, "m", strings[2]);
    char *dumped = json_dumps(frame, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(frame);
    char *escaped = json_text_for_csv(dumped);
    free(dumped);
    return escaped;
}

/* The frame text is jansson's, byte for byte: escapes, control characters, ';' and DEL, and
 * each way a byte sequence can fail to be UTF-8 (jansson's checks). */
static void test_render_frame_as_jansson_did(void)
{
    static const char *const texts[] = {
        "", "main", "operator new(unsigned long)", "f(std::map<int;int>)", "a\"b\\c/d",
        "\b\f\n\r\t", "\x01\x1f\x7f;", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
        "\xf4\x8f\xbf\xbf", "bad\xff\xfe" "dir", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80",
        "\xed\xa0\x80", "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
        "\x80", "\xc3", "\xe2\x82", "\xc3(", "mixed \xc3\xa9 and \xff;", "/usr/lib/x.so"};
    size_t count = sizeof texts / sizeof *texts;
    for (size_t i = 0; i < count; i++) {
        const char *other = texts[(i * 7 + 3) % count];
        int line = (int)i * 1000 - 3;
        char *mine = stack_json_render_frame(texts[i], other, line, texts[count - 1 - i]);
        char *theirs = frame_by_jansson(texts[i], other, line, texts[count - 1 - i]);
        CHECK_EQ_STR(mine, theirs);
        free(mine);
        free(theirs);
    }
}

int main(void)
{
    alarm(30);
    RUN_TEST(test_escape_semicolons);
    RUN_TEST(test_entry_point_names);
    RUN_TEST(test_frame0);
    RUN_TEST(test_frames);
    RUN_TEST(test_render_frame_as_jansson_did);
    return check_exit_status();
}
