/* memory_map.c: see memory_map.h. */
#define _GNU_SOURCE
#include "memory_map.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "os.h"
#include "proc_self.h"

#define CHUNK_SIZE 65536u

static long raw_read(int fd, char *buffer, size_t size)
{
    int saved = errno;
    long got;
    do
        got = syscall(SYS_read, fd, buffer, size);
    while (got < 0 && errno == EINTR);
    errno = saved;
    return got;
}

static void raw_close(int fd)
{
    int saved = errno;
    syscall(SYS_close, fd);
    errno = saved;
}

long memory_map_read_small_file(const char *path, char *buffer, size_t size)
{
    if (size == 0)
        return -1;
    int fd = proc_self_open(path, 0);
    if (fd < 0)
        return -1;
    size_t used = 0;
    long got = 1;
    while (used < size - 1 && (got = raw_read(fd, buffer + used, size - 1 - used)) > 0)
        used += (size_t)got;
    raw_close(fd);
    buffer[used] = '\0';
    return got < 0 ? -1 : (long)used;
}

size_t memory_map_copy(uintptr_t address, void *out, size_t size)
{
    struct iovec local = {out, size};
    struct iovec remote = {(void *)address, size}; // NOLINT(performance-no-int-to-ptr)
    int saved = errno;
    ssize_t copied = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    bool refused = copied < 0 && errno != EFAULT; /* a sandbox (seccomp) forbids the call */
    errno = saved;
    if (refused) {
        uintptr_t *words = out;
        for (size_t i = 0; i < size / sizeof(uintptr_t); i++)
            words[i] = memory_map_load_word(address + i * sizeof(uintptr_t));
        return size / sizeof(uintptr_t) * sizeof(uintptr_t);
    }
    return copied > 0 ? (size_t)copied : 0;
}

static const char *parse_hex(const char *text, uintptr_t *out)
{
    uintptr_t value = 0;
    for (;; text++) {
        unsigned digit;
        if (*text >= '0' && *text <= '9')
            digit = (unsigned)(*text - '0');
        else if (*text >= 'a' && *text <= 'f')
            digit = (unsigned)(*text - 'a' + 10);
        else
            break;
        value = value * 16 + digit;
    }
    *out = value;
    return text;
}

static const char *parse_decimal(const char *text, uint64_t *out)
{
    uint64_t value = 0;
    for (; *text >= '0' && *text <= '9'; text++)
        value = value * 10 + (uint64_t)(*text - '0');
    *out = value;
    return text;
}

/* One line: "START-END PERMS OFFSET MAJOR:MINOR INODE [PATH]". */
static bool parse_line(const char *line, struct maps_entry *out)
{
    const char *p = parse_hex(line, &out->start);
    if (*p != '-')
        return false;
    p = parse_hex(p + 1, &out->end);
    if (*p != ' ' || out->end <= out->start)
        return false;
    out->readable = p[1] == 'r';
    out->writable = p[1] != '\0' && p[2] == 'w';
    p = strchr(p + 1, ' ');
    uintptr_t offset, major, minor;
    if (p == NULL || *(p = parse_hex(p + 1, &offset)) != ' ' || *(p = parse_hex(p + 1, &major)) != ':'
        || *(p = parse_hex(p + 1, &minor)) != ' ' || *(p = parse_decimal(p + 1, &out->inode)) != ' ')
        return false;
    out->device = (uint64_t)major << 32 | minor;
    while (*p == ' ')
        p++;
    out->path = p;
    return true;
}

/* Reads the thread's /proc/self/maps through chunk (CHUNK_SIZE bytes) and calls visit with
 * each entry, until one returns false; false when the file cannot be read, or visit did. */
static bool visit_entries(char *chunk, bool (*visit)(const struct maps_entry *entry, void *context),
                          void *context)
{
    /* The thread's own view: the process's is empty once its main thread has exited. */
    int fd = proc_self_open("/proc/thread-self/maps", 0);
    if (fd < 0)
        fd = proc_self_open("/proc/self/maps", 0);
    bool ok = fd >= 0;
    size_t kept = 0; /* bytes of an unfinished line at the start of chunk */
    bool skipping = false; /* the rest of a line longer than chunk: no mapping line */
    while (ok) {
        long got = raw_read(fd, chunk + kept, CHUNK_SIZE - 1 - kept);
        if (got <= 0) {
            ok = got == 0;
            break;
        }
        size_t used = kept + (size_t)got;
        chunk[used] = '\0';
        char *line = chunk;
        char *newline;
        while (ok && (newline = memchr(line, '\n', used - (size_t)(line - chunk))) != NULL) {
            *newline = '\0';
            struct maps_entry entry;
            if (!skipping && parse_line(line, &entry))
                ok = visit(&entry, context);
            skipping = false;
            line = newline + 1;
        }
        kept = used - (size_t)(line - chunk);
        memmove(chunk, line, kept);
        if (kept == CHUNK_SIZE - 1 && !skipping) {
            /* A path longer than the chunk (its end may read like a line of its own): the
             * mapping without it, then the rest of the line is skipped. */
            struct maps_entry entry;
            if (parse_line(chunk, &entry)) {
                entry.path = "";
                ok = visit(&entry, context);
            }
            skipping = true;
        }
        if (kept == CHUNK_SIZE - 1)
            kept = 0;
    }
    if (fd >= 0)
        raw_close(fd);
    return ok;
}

bool memory_map_visit(bool (*visit)(const struct maps_entry *entry, void *context), void *context)
{
    char *chunk = os_map(CHUNK_SIZE);
    if (chunk == NULL)
        return false;
    bool ok = visit_entries(chunk, visit, context);
    os_unmap(chunk, CHUNK_SIZE);
    return ok;
}

static bool push_mapping(const struct maps_entry *entry, void *map_pointer)
{
    struct memory_map *map = map_pointer;
    struct mapping mapping = {entry->start, entry->end, entry->readable, entry->writable};
    if (!mapped_array_push(&map->storage, &mapping))
        return false;
    map->mappings = map->storage.items;
    map->count = map->storage.count;
    return true;
}

bool memory_map_read(struct memory_map *map)
{
    memory_map_release(map);
    map->chunk = os_map(CHUNK_SIZE);
    bool ok = map->chunk != NULL && visit_entries(map->chunk, push_mapping, map);
    if (!ok)
        map->count = 0;
    return ok && map->count > 0;
}

const struct mapping *memory_map_find(const struct memory_map *map, uintptr_t address)
{
    size_t low = 0, high = map->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (map->mappings[middle].end <= address)
            low = middle + 1;
        else
            high = middle;
    }
    if (low < map->count && map->mappings[low].start <= address)
        return &map->mappings[low];
    return NULL;
}

void memory_map_for_each_readable(const struct memory_map *map, uintptr_t start, uintptr_t end,
                                  void (*visit)(uintptr_t start, uintptr_t end, void *context),
                                  void *context)
{
    size_t low = 0, high = map->count;
    while (low < high) { /* the first mapping that ends after start */
        size_t middle = low + (high - low) / 2;
        if (map->mappings[middle].end <= start)
            low = middle + 1;
        else
            high = middle;
    }
    for (size_t i = low; i < map->count && map->mappings[i].start < end; i++) {
        const struct mapping *mapping = &map->mappings[i];
        if (!mapping->readable)
            continue;
        uintptr_t from = mapping->start > start ? mapping->start : start;
        uintptr_t to = mapping->end < end ? mapping->end : end;
        if (from < to)
            visit(from, to, context);
    }
}

void memory_map_release(struct memory_map *map)
{
    if (map->storage.item_size == 0)
        mapped_array_init(&map->storage, sizeof(struct mapping));
    mapped_array_release(&map->storage);
    os_unmap(map->chunk, CHUNK_SIZE);
    map->chunk = NULL;
    map->mappings = NULL;
    map->count = 0;
}
