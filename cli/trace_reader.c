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

json_t *trace_reader_parse_stack(const struct trace_row *row)
{
    json_error_t error;
    json_t *frames = json_loads(row->callstack, JSON_REJECT_DUPLICATES, &error);
    const char *reason = frames == NULL ? error.text : NULL;
    if (frames != NULL && (!json_is_array(frames) || json_array_size(frames) == 0))
        reason = "callstack is not a non-empty JSON array";
    if (reason == NULL) {
        size_t index;
        json_t *frame;
        json_array_foreach(frames, index, frame) {
            if (!json_is_object(frame) || !json_is_string(json_object_get(frame, "f"))
                || !json_is_string(json_object_get(frame, "s"))
                || !json_is_integer(json_object_get(frame, "l"))) {
                reason = "callstack frame without \"f\", \"s\" and \"l\"";
                break;
            }
        }
    }
    if (reason == NULL)
        return frames;
    char message[300];
    snprintf(message, sizeof message, "invalid callstack JSON: %s", reason);
    trace_reader_reject(row, message);
    json_decref(frames);
    return NULL;
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

/* The longest line read: a stack of 256 frames with long C++ names takes a few hundred KiB;
 * what is longer is no trace line (/dev/zero grew getline's buffer until the kernel killed
 * the command). */
#define LINE_LIMIT ((size_t)64 << 20)
/* Read at a time: traces run to gigabytes, and a read(2) per 4 KiB (stdio's buffer) costs
 * more than parsing what it returns. */
#define CHUNK ((size_t)1 << 20)

/* Lines of a stream, each in a buffer of its own that the caller may write into. */
struct line_reader {
    FILE *stream;
    char *buffer;
    size_t capacity;   /* the buffer's bytes; one more than what it holds, for a NUL */
    size_t start, end; /* the bytes read and not handed out yet */
    size_t searched;   /* of those, the first ones known to hold no line end */
    bool at_end;       /* the stream said end of file or error */
    bool skipping;     /* inside a line longer than LINE_LIMIT: dropped up to its end */
};

enum line_status { LINE_READ, LINE_TOO_LONG, LINE_NONE, LINE_UNREADABLE };

/* Reads into the buffer's free space, after moving what is held to its start and growing it
 * when full; false when the buffer cannot grow (errno: ENOMEM). */
static bool fill(struct line_reader *reader)
{
    if (reader->start > 0) {
        memmove(reader->buffer, reader->buffer + reader->start, reader->end - reader->start);
        reader->end -= reader->start;
        reader->start = 0;
    }
    if (reader->end + 1 == reader->capacity) {
        size_t capacity = reader->capacity * 2;
        char *grown = realloc(reader->buffer, capacity);
        if (grown == NULL) {
            errno = ENOMEM;
            return false;
        }
        reader->buffer = grown;
        reader->capacity = capacity;
    }
    size_t room = reader->capacity - 1 - reader->end;
    size_t got = fread(reader->buffer + reader->end, 1, room < CHUNK ? room : CHUNK,
                       reader->stream);
    reader->end += got;
    if (got == 0)
        reader->at_end = true;
    return true;
}

/* The next line, without its line end, NUL-terminated, into *line and *length; *whole says
 * whether it had a line end (the last line of a file may not). */
static enum line_status next_line(struct line_reader *reader, char **line, size_t *length,
                                  bool *whole)
{
    for (;;) {
        char *held = reader->buffer + reader->start;
        char *line_end = memchr(held + reader->searched, '\n',
                                reader->end - reader->start - reader->searched);
        reader->searched = line_end == NULL ? reader->end - reader->start : 0;
        if (line_end != NULL && reader->skipping) {
            reader->skipping = false;
            reader->start = (size_t)(line_end + 1 - reader->buffer);
            continue;
        }
        if (line_end != NULL) {
            *line_end = '\0';
            *line = held;
            *length = (size_t)(line_end - held);
            *whole = true;
            reader->start += *length + 1;
            return LINE_READ;
        }
        if (reader->skipping)
            reader->start = reader->end = reader->searched = 0;
        else if (reader->end - reader->start >= LINE_LIMIT) {
            reader->skipping = true;
            reader->start = reader->end = reader->searched = 0;
            return LINE_TOO_LONG;
        }
        if (reader->at_end) {
            if (reader->skipping || reader->start == reader->end)
                return ferror(reader->stream) ? LINE_UNREADABLE : LINE_NONE;
            *line = held;
            *length = reader->end - reader->start;
            held[*length] = '\0';
            *whole = false;
            reader->start = reader->end;
            reader->searched = 0;
            return LINE_READ;
        }
        if (!fill(reader))
            return LINE_UNREADABLE;
    }
}

static int read_file(const char *path, row_visitor *visit, void *context)
{
    FILE *stream = fopen(path, "r");
    if (stream == NULL) {
        fprintf(stderr, "malloc-trace: %s: %s\n", path, strerror(errno));
        return 2;
    }
    struct line_reader reader = {.stream = stream, .capacity = CHUNK + 1};
    reader.buffer = malloc(reader.capacity);
    if (reader.buffer == NULL) {
        fputs("malloc-trace: out of memory\n", stderr);
        fclose(stream);
        return 2;
    }
    char *line;
    size_t length;
    bool whole;
    enum line_status status;
    unsigned long number = 0;
    while ((status = next_line(&reader, &line, &length, &whole)) == LINE_READ
           || status == LINE_TOO_LONG) {
        number++;
        if (status == LINE_TOO_LONG) {
            fprintf(stderr, "%s:%lu: the line is longer than %zu MiB\n", path, number,
                    LINE_LIMIT >> 20);
            bad_input = true;
            if (number == 1)
                break;
            continue;
        }
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
        else if (strlen(line) != length)
            reason = "a NUL byte in the line";
        else
            reason = parse_line(line, length, &row);
        if (reason != NULL) {
            fprintf(stderr, "%s:%lu: %s\n", path, number, reason);
            bad_input = true;
            continue;
        }
        visit(&row, context);
    }
    if (status == LINE_UNREADABLE) {
        fprintf(stderr, "%s:%lu: cannot read further: %s\n", path, number + 1,
                strerror(errno));
        bad_input = true;
    } else if (number == 0) {
        fprintf(stderr, "%s:1: not a malloc-trace file (empty)\n", path);
        bad_input = true;
    }
    free(reader.buffer);
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
