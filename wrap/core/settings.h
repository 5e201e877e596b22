/* settings.h: the environment variables of CONTRACT section 4, read once at start. */
#ifndef MALLOC_TRACE_SETTINGS_H
#define MALLOC_TRACE_SETTINGS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define SETTINGS_MAX_DEPTH 256

/* MALLOC_TRACE_UNWIND */
enum unwinder {
    UNWINDER_TABLES,         /* tables: compact tables from .eh_frame, libunwind where they end */
    UNWINDER_LIBUNWIND,      /* libunwind: libunwind (or libgcc's unwinder) for every stack */
    UNWINDER_FRAME_POINTERS, /* fp: the frame-pointer chain */
};

struct settings {
    char out_file_path[PATH_MAX];  /* may hold %p, expanded when the file is opened */
    uint64_t out_file_max_size;
    unsigned period_seconds;       /* malloc_second_peremption */
    unsigned depth;                /* MALLOC_TRACE_DEPTH: frames kept, frame 0 included */
    bool symbols;                  /* MALLOC_TRACE_SYMBOLS */
    bool reachable;                /* MALLOC_TRACE_REACHABLE: exit rows for reachable blocks */
    enum unwinder unwinder;        /* MALLOC_TRACE_UNWIND */
};

/* The value of one variable, or NULL when unset; getenv in the library, a table in tests. */
typedef const char *settings_lookup_fn(const char *name);

/* Fills every field; a value that does not parse is reported once (os_message, naming the
 * variable) and its default is kept. */
void settings_load(struct settings *out, settings_lookup_fn *lookup);

/* Says, once each, which variables of environment (NAME=VALUE entries, NULL-terminated)
 * have the MALLOC_TRACE_ prefix but are no setting (a misspelt MALLOC_TRACE_DEPTH would
 * otherwise be ignored without a word, as LeakSanitizer warns of a flag it does not know). */
void settings_check_names(char *const *environment);

/* Parsers, exposed for the unit tests. Each returns false when text is not acceptable. */
bool settings_parse_size(const char *text, uint64_t *out);               /* decimal or 0x hex, > 0 */
bool settings_parse_unsigned(const char *text, unsigned max, unsigned *out); /* decimal, 1..max */

#endif
