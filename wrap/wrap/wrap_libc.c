/* wrap_libc.c: the libc functions that hand heap memory to the caller, for `ld --wrap`.
 * With a shared libc their allocations happen inside libc.so, out of --wrap's reach: the
 * block is recorded from the result, after the call (no guard around the real call: in a
 * static link libc's own allocations inside it must stay visible, see TRAPS.md). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <wchar.h>

#include "../core/tracer.h"

#define WRAP __attribute__((visibility("default")))

char *__real_strdup(const char *text);
char *__real_strndup(const char *text, size_t max);
wchar_t *__real_wcsdup(const wchar_t *text);
char *__real_realpath(const char *path, char *resolved);
char *__real_getcwd(char *buffer, size_t size);
char *__real_get_current_dir_name(void);
ssize_t __real_getline(char **line, size_t *size, FILE *stream);
ssize_t __real_getdelim(char **line, size_t *size, int delimiter, FILE *stream);
ssize_t __real___getdelim(char **line, size_t *size, int delimiter, FILE *stream);
int __real_vasprintf(char **out, const char *format, va_list args);
int __real___vasprintf_chk(char **out, int flag, const char *format, va_list args);
int __real_dlclose(void *handle);

WRAP char *__wrap_strdup(const char *text)
{
    char *copy = __real_strdup(text);
    malloc_trace_on_alloc(copy, copy ? strlen(copy) + 1 : 0, ENTRY_STRDUP);
    return copy;
}

WRAP char *__wrap_strndup(const char *text, size_t max)
{
    char *copy = __real_strndup(text, max);
    malloc_trace_on_alloc(copy, copy ? strlen(copy) + 1 : 0, ENTRY_STRNDUP);
    return copy;
}

WRAP wchar_t *__wrap_wcsdup(const wchar_t *text)
{
    wchar_t *copy = __real_wcsdup(text);
    malloc_trace_on_alloc(copy, copy ? (wcslen(copy) + 1) * sizeof *copy : 0, ENTRY_WCSDUP);
    return copy;
}

WRAP char *__wrap_realpath(const char *path, char *resolved)
{
    char *result = __real_realpath(path, resolved);
    if (resolved == NULL)
        malloc_trace_on_alloc(result, result ? strlen(result) + 1 : 0, ENTRY_REALPATH);
    return result;
}

WRAP char *__wrap_getcwd(char *buffer, size_t size)
{
    char *result = __real_getcwd(buffer, size);
    /* glibc allocates size bytes, or just enough when size is 0. */
    if (buffer == NULL)
        malloc_trace_on_alloc(result, size ? size : result ? strlen(result) + 1 : 0,
                              ENTRY_GETCWD);
    return result;
}

WRAP char *__wrap_get_current_dir_name(void)
{
    char *result = __real_get_current_dir_name();
    malloc_trace_on_alloc(result, result ? strlen(result) + 1 : 0, ENTRY_GET_CURRENT_DIR_NAME);
    return result;
}

/* After getline or getdelim: libc grew the buffer with realloc, seen by the realloc wrapper
 * in a static link, out of --wrap's reach with a shared libc. Either way the old block is
 * gone. Inlined, as record_printed: the stack's capture counts a fixed number of tracer
 * frames between the program and the hook (backtrace.h). */
static inline __attribute__((always_inline)) ssize_t record_line(char **line, size_t *size, const char *old, ssize_t length,
                           enum entry_point entry)
{
    if (*line != old) {
        malloc_trace_on_released((void *)old);
        malloc_trace_on_alloc(*line, *size, entry);
    } else {
        malloc_trace_on_resized(*line, *size, entry);
    }
    return length;
}

WRAP ssize_t __wrap_getline(char **line, size_t *size, FILE *stream)
{
    if (line == NULL || size == NULL)
        return __real_getline(line, size, stream);
    char *old = *line;
    return record_line(line, size, old, __real_getline(line, size, stream), ENTRY_GETLINE);
}

WRAP ssize_t __wrap_getdelim(char **line, size_t *size, int delimiter, FILE *stream)
{
    if (line == NULL || size == NULL)
        return __real_getdelim(line, size, delimiter, stream);
    char *old = *line;
    return record_line(line, size, old, __real_getdelim(line, size, delimiter, stream),
                       ENTRY_GETDELIM);
}

/* What glibc's stdio.h makes of getline (and getdelim) where it inlines it (-O1 on): its row
 * says getline for a line's end, as the program's source most likely does. */
WRAP ssize_t __wrap___getdelim(char **line, size_t *size, int delimiter, FILE *stream)
{
    if (line == NULL || size == NULL)
        return __real___getdelim(line, size, delimiter, stream);
    char *old = *line;
    return record_line(line, size, old, __real___getdelim(line, size, delimiter, stream),
                       delimiter == '\n' ? ENTRY_GETLINE : ENTRY_GETDELIM);
}

static inline __attribute__((always_inline)) int record_printed(char **out, int length, enum entry_point entry)
{
    if (length >= 0)
        malloc_trace_on_alloc(*out, (size_t)length + 1, entry);
    return length;
}

WRAP int __wrap_vasprintf(char **out, const char *format, va_list args)
{
    return record_printed(out, __real_vasprintf(out, format, args), ENTRY_VASPRINTF);
}

WRAP int __wrap_asprintf(char **out, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int length = __real_vasprintf(out, format, args);
    va_end(args);
    return record_printed(out, length, ENTRY_ASPRINTF);
}

/* What glibc's stdio.h calls for asprintf and vasprintf under _FORTIFY_SOURCE (Debian's
 * build flags): the rows name the functions the program's source calls. */
WRAP int __wrap___vasprintf_chk(char **out, int flag, const char *format, va_list args)
{
    return record_printed(out, __real___vasprintf_chk(out, flag, format, args),
                          ENTRY_VASPRINTF);
}

WRAP int __wrap___asprintf_chk(char **out, int flag, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int length = __real___vasprintf_chk(out, flag, format, args);
    va_end(args);
    return record_printed(out, length, ENTRY_ASPRINTF);
}

/* Not an allocation: frames in a library are named before it is unloaded. */
WRAP int __wrap_dlclose(void *handle)
{
    malloc_trace_on_dlclose_begin();
    int result = __real_dlclose(handle);
    malloc_trace_on_dlclose_end();
    return result;
}
