/* trace_reader.c: see trace_reader.h. */
#define _GNU_SOURCE
#include "trace_reader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER "function;thread_id;address;size;timestamp_ms;callstack"

static bool bad_input;

void trace_reader_reject(const struct trace_row *row, const char *reason)
{
    fprintf(stderr, "%s:%lu: %s\n", row->file, row->line, reason);
    bad_input = true;
}

static bool parse_decimal(const char *text, uint64_t *out)
{
    if (*text == '\0' || strlen(text) > 20)
        return false;
    uint64_t value = 0;
    for (const char *c = text; *c; c++) {
        if (*c < '0' || *c > '9' || value > (UINT64_MAX - (uint64_t)(*c - '0')) / 10)
            return false;
        value = value * 10 + (uint64_t)(*c - '0');
    }
    *out = value;
    return true;
}

static bool parse_address(const char *text, uint64_t *out)
{
    if (text[0] != '0' || text[1] != 'x' || text[2] == '\0' || strlen(text) > 18)
        return false;
    uint64_t value = 0;
    for (const char *c = text + 2; *c; c++) {
        int digit = *c >= '0' && *c <= '9' ? *c - '0' : *c >= 'a' && *c <= 'f' ? *c - 'a' + 10 : -1;
        if (digit < 0)
            return false;
        value = value * 16 + (uint64_t)digit;
    }
    *out = value;
    return true;
}

static const char *const kinds[] = {"malloc", "free", "leak", "indirect", "reachable"};

/* Splits and checks one data line of length bytes; NULL on success, else the reason. */
static const char *parse_line(char *line, size_t length, struct trace_row *row)
{
    char *fields[6];
    char *cursor = line;
    for (int i = 0; i < 5; i++) {
        char *separator = strchr(cursor, ';');
        if (separator == NULL)
            return "fewer than 6 fields";
        *separator = '\0';
        fields[i] = cursor;
        cursor = separator + 1;
    }
    fields[5] = cursor;
    unsigned kind;
    for (kind = 0; kind < sizeof kinds / sizeof *kinds; kind++)
        if (strcmp(fields[0], kinds[kind]) == 0)
            break;
    if (kind == sizeof kinds / sizeof *kinds)
        return "unknown event (not malloc, free, leak, indirect or reachable)";
    row->kind = (enum row_kind)kind;
    uint64_t thread_id;
    if (!parse_decimal(fields[1], &thread_id) || thread_id > 0x7fffffff)
        return "thread_id is not a thread id";
    row->thread_id = (long)thread_id;
    if (!parse_address(fields[2], &row->address))
        return "address is not 0x and lower-case hex";
    if (!parse_decimal(fields[3], &row->size) || row->size > INT64_MAX)
        return "size is not a whole number below 2^63";
    if (!parse_decimal(fields[4], &row->timestamp_ms) || row->timestamp_ms > INT64_MAX)
        return "timestamp_ms is not a whole number below 2^63";
    if (fields[5][0] != '[')
        return "callstack is not a JSON array";
    row->callstack = fields[5];
    row->callstack_length = length - (size_t)(fields[5] - line);
    return NULL;
}

static int read_file(const char *path, row_visitor *visit, void *context)
{
    FILE *stream = fopen(path, "r");
    if (stream == NULL) {
        fprintf(stderr, "malloc-trace: %s: %s\n", path, strerror(errno));
        return 2;
    }
    /* Traces run to gigabytes: a read(2) per 4 KiB (stdio's default) costs more than
     * parsing what it returns. */
    setvbuf(stream, NULL, _IOFBF, 1u << 20);
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    unsigned long number = 0;
    while ((length = getline(&line, &capacity, stream)) >= 0) {
        number++;
        bool whole = length > 0 && line[length - 1] == '\n';
        if (whole)
            line[--length] = '\0';
        if (whole && length > 0 && line[length - 1] == '\r')
            line[--length] = '\0'; /* a trace that went through a CRLF tool */
        if (number == 1) {
            if (strcmp(line, HEADER) != 0) {
                fprintf(stderr, "%s:1: not a malloc-trace file (the first line is not the "
                                "header)\n", path);
                bad_input = true;
                break;
            }
            continue;
        }
        struct trace_row row = {.file = path, .line = number};
        const char *reason;
        if (!whole)
            reason = "the line is cut (no line end)";
        else if (strlen(line) != (size_t)length)
            reason = "a NUL byte in the line";
        else
            reason = parse_line(line, (size_t)length, &row);
        if (reason != NULL) {
            fprintf(stderr, "%s:%lu: %s\n", path, number, reason);
            bad_input = true;
            continue;
        }
        visit(&row, context);
    }
    if (ferror(stream)) {
        fprintf(stderr, "%s:%lu: cannot read further: %s\n", path, number + 1,
                strerror(errno));
        bad_input = true;
    } else if (number == 0) {
        fprintf(stderr, "%s:1: not a malloc-trace file (empty)\n", path);
        bad_input = true;
    }
    free(line);
    fclose(stream);
    return 0;
}

int trace_read_files(char *const *paths, int count, row_visitor *visit, void *context,
                     bool *stop_now)
{
    *stop_now = false;
    bad_input = false; /* per call: the fuzz target reads many traces in one process */
    /* A missing file stops the command before anything is read. */
    for (int i = 0; i < count; i++) {
        /* stat and access only: opening a FIFO here would consume its writer. */
        struct stat status;
        int error = stat(paths[i], &status) != 0     ? errno
                    : S_ISDIR(status.st_mode)         ? EISDIR
                    : access(paths[i], R_OK) != 0     ? errno
                                                      : 0;
        if (error != 0) {
            fprintf(stderr, "malloc-trace: %s: %s\n", paths[i], strerror(error));
            *stop_now = true;
            return 2;
        }
        /* A file named twice would count every row twice. */
        for (int j = 0; j < i; j++) {
            struct stat earlier;
            if (stat(paths[j], &earlier) == 0 && earlier.st_dev == status.st_dev
                && earlier.st_ino == status.st_ino) {
                fprintf(stderr, "malloc-trace: %s: named twice (as %s)\n", paths[i], paths[j]);
                *stop_now = true;
                return 2;
            }
        }
    }
    for (int i = 0; i < count; i++) {
        if (read_file(paths[i], visit, context) != 0) {
            *stop_now = true;
            return 2;
        }
    }
    return bad_input ? 2 : 0;
}
