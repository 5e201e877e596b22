/* settings.c: one table of settings feeds the parser and the messages (see settings.h). */
#include "settings.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "os.h"

#define DEFAULT_OUT_FILE_PATH "/tmp/malloc-trace.csv"
#define DEFAULT_OUT_FILE_MAX_SIZE 0x100000000ull
#define DEFAULT_PERIOD_SECONDS 60u
#define DEFAULT_DEPTH 32u
/* A period longer than a year is a typo, and keeps timeouts far from overflow. */
#define MAX_PERIOD_SECONDS (366u * 24u * 3600u)

static bool parse_digits(const char *text, unsigned base, uint64_t *out)
{
    uint64_t value = 0;
    if (*text == '\0')
        return false;
    for (; *text != '\0'; text++) {
        unsigned digit;
        char c = *text;
        if (c >= '0' && c <= '9')
            digit = (unsigned)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            digit = (unsigned)(c - 'a') + 10;
        else if (base == 16 && c >= 'A' && c <= 'F')
            digit = (unsigned)(c - 'A') + 10;
        else
            return false;
        if (value > (UINT64_MAX - digit) / base)
            return false;
        value = value * base + digit;
    }
    *out = value;
    return true;
}

bool settings_parse_size(const char *text, uint64_t *out)
{
    uint64_t value;
    bool parsed = (text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
                      ? parse_digits(text + 2, 16, &value)
                      : parse_digits(text, 10, &value);
    if (!parsed || value == 0)
        return false;
    *out = value;
    return true;
}

bool settings_parse_unsigned(const char *text, unsigned max, unsigned *out)
{
    uint64_t value;
    if (!parse_digits(text, 10, &value) || value == 0 || value > max)
        return false;
    *out = (unsigned)value;
    return true;
}

/* A rejected value as its message shows it: its first SHOWN_BYTES bytes (os_message shows a
 * control character as \xHH). */
#define SHOWN_BYTES 64u
struct shown_value {
    char text[SHOWN_BYTES + sizeof "..."];
};

static struct shown_value shown(const char *value)
{
    struct shown_value out;
    snprintf(out.text, sizeof out.text, "%.*s%s", (int)SHOWN_BYTES, value,
             strnlen(value, SHOWN_BYTES + 1) > SHOWN_BYTES ? "..." : "");
    return out;
}

/* A setting that is 0 or 1; *value holds its default. */
static void load_switch(settings_lookup_fn *lookup, const char *name, bool *value)
{
    const char *text = lookup(name);
    if (text == NULL)
        return;
    if (strcmp(text, "0") == 0 || strcmp(text, "1") == 0)
        *value = text[0] == '1';
    else
        os_message("%s: '%s' is neither 0 nor 1; using %d", name, shown(text).text, *value);
}

/* out_file_path as given, made absolute with the working directory at start: every flush
 * opens it again (to follow a move or a deletion), and a program that changes directory
 * (a daemon's chdir("/")) would otherwise split its trace, or lose the rest of it. Kept as
 * given where the directory cannot be part of it: unknown, too long, or holding a '%' that
 * the path's %p expansion would read. */
static void load_out_file_path(const char *text, char *out, size_t out_size)
{
    size_t length = strlen(text);
    if (length == 0 || length >= out_size) {
        os_message("out_file_path: %s; using %s", length == 0 ? "empty" : "longer than PATH_MAX",
                   DEFAULT_OUT_FILE_PATH);
        return;
    }
    char directory[PATH_MAX];
    size_t directory_length = 0;
    if (text[0] != '/' && getcwd(directory, sizeof directory) != NULL
        && strchr(directory, '%') == NULL) {
        directory_length = strlen(directory);
        if (directory[directory_length - 1] != '/')
            directory[directory_length++] = '/';
        if (directory_length + length >= out_size)
            directory_length = 0;
    }
    memcpy(out, directory, directory_length);
    memcpy(out + directory_length, text, length + 1);
}

void settings_load(struct settings *out, settings_lookup_fn *lookup)
{
    const char *text;

    memcpy(out->out_file_path, DEFAULT_OUT_FILE_PATH, sizeof DEFAULT_OUT_FILE_PATH);
    out->out_file_max_size = DEFAULT_OUT_FILE_MAX_SIZE;
    out->period_seconds = DEFAULT_PERIOD_SECONDS;
    out->depth = DEFAULT_DEPTH;
    out->symbols = true;
    out->reachable = false;
    out->unwinder = UNWINDER_TABLES;

    if ((text = lookup("out_file_path")) != NULL)
        load_out_file_path(text, out->out_file_path, sizeof out->out_file_path);
    if ((text = lookup("out_file_max_size")) != NULL
        && !settings_parse_size(text, &out->out_file_max_size))
        os_message("out_file_max_size: '%s' is not a positive decimal or 0x hex number of "
                   "bytes; using 0x%llx", shown(text).text, (unsigned long long)DEFAULT_OUT_FILE_MAX_SIZE);
    if ((text = lookup("malloc_second_peremption")) != NULL
        && !settings_parse_unsigned(text, MAX_PERIOD_SECONDS, &out->period_seconds))
        os_message("malloc_second_peremption: '%s' is not a whole number of seconds from 1 "
                   "to %u; using %u", shown(text).text, MAX_PERIOD_SECONDS, DEFAULT_PERIOD_SECONDS);
    if ((text = lookup("MALLOC_TRACE_DEPTH")) != NULL
        && !settings_parse_unsigned(text, SETTINGS_MAX_DEPTH, &out->depth))
        os_message("MALLOC_TRACE_DEPTH: '%s' is not a whole number from 1 to %u; using %u",
                   shown(text).text, SETTINGS_MAX_DEPTH, DEFAULT_DEPTH);
    load_switch(lookup, "MALLOC_TRACE_SYMBOLS", &out->symbols);
    load_switch(lookup, "MALLOC_TRACE_REACHABLE", &out->reachable);
    if ((text = lookup("MALLOC_TRACE_UNWIND")) != NULL) {
        if (strcmp(text, "fp") == 0)
            out->unwinder = UNWINDER_FRAME_POINTERS;
        else if (strcmp(text, "libunwind") == 0)
            out->unwinder = UNWINDER_LIBUNWIND;
        else if (strcmp(text, "tables") != 0)
            os_message("MALLOC_TRACE_UNWIND: '%s' is not tables, libunwind or fp; using tables",
                       shown(text).text);
    }
}

/* The settings with the prefix, and MALLOC_TRACE_RUN, which `malloc-trace run` sets. */
static const char *const prefixed_names[] = {"MALLOC_TRACE_DEPTH", "MALLOC_TRACE_SYMBOLS",
                                             "MALLOC_TRACE_UNWIND", "MALLOC_TRACE_REACHABLE",
                                             "MALLOC_TRACE_RUN"};
#define SETTING_PREFIX "MALLOC_TRACE_"

void settings_check_names(char *const *environment)
{
    for (char *const *entry = environment; entry != NULL && *entry != NULL; entry++) {
        if (strncmp(*entry, SETTING_PREFIX, sizeof SETTING_PREFIX - 1) != 0)
            continue;
        size_t length = strcspn(*entry, "=");
        bool known = false;
        for (size_t i = 0; i < sizeof prefixed_names / sizeof *prefixed_names && !known; i++)
            known = strlen(prefixed_names[i]) == length
                    && strncmp(*entry, prefixed_names[i], length) == 0;
        if (!known)
            os_message("%.*s is not a setting (MALLOC_TRACE_DEPTH, MALLOC_TRACE_SYMBOLS, "
                       "MALLOC_TRACE_UNWIND, MALLOC_TRACE_REACHABLE); ignored",
                       (int)(length < SHOWN_BYTES ? length : SHOWN_BYTES), *entry);
    }
}
