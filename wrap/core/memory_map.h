/* memory_map.h: the process's mappings as /proc/self/maps lists them, read with raw system
 * calls only: the leak scan reads them while other threads are stopped, possibly inside
 * malloc or stdio with their locks held. */
#ifndef MALLOC_TRACE_MEMORY_MAP_H
#define MALLOC_TRACE_MEMORY_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapped_array.h"

struct mapping {
    uintptr_t start;
    uintptr_t end;
    bool readable;
    bool writable;
};

struct memory_map {
    struct mapping *mappings; /* by address */
    size_t count;
    struct mapped_array storage; /* of mappings, and the buffer the file was read through */
    char *chunk;
};

/* A line of /proc/self/maps. */
struct maps_entry {
    uintptr_t start;
    uintptr_t end;
    bool readable;
    bool writable;
    uint64_t device; /* major << 32 | minor */
    uint64_t inode;
    const char *path; /* "" for anonymous memory; valid during the visit only */
};

/* Calls visit with each line of the thread's /proc/self/maps, read with raw system calls
 * (no stdio, whose lock a thread interrupted by a signal handler may hold), until visit
 * returns false; false when the file cannot be read, or visit returned false. */
bool memory_map_visit(bool (*visit)(const struct maps_entry *entry, void *context), void *context);

/* Reads /proc/self/maps into a map that is zero-filled or released; false (with the map
 * empty) when it cannot be read. The memory it takes for that stays mapped until
 * memory_map_release, so the map lists no memory that is gone. */
bool memory_map_read(struct memory_map *map);

/* The mapping that contains address, or NULL. */
const struct mapping *memory_map_find(const struct memory_map *map, uintptr_t address);

/* Calls visit for each readable piece of [start, end), in address order. */
void memory_map_for_each_readable(const struct memory_map *map, uintptr_t start, uintptr_t end,
                                  void (*visit)(uintptr_t start, uintptr_t end, void *context),
                                  void *context);

void memory_map_release(struct memory_map *map);

/* The word at address, which lies in a readable mapping: the program's memory, read while
 * it may change (a thread that could not be stopped), never seen by a sanitizer. */
__attribute__((no_sanitize("address", "thread"))) static inline uintptr_t
memory_map_load_word(uintptr_t address)
{
    return *(const volatile uintptr_t *)address; // NOLINT(performance-no-int-to-ptr)
}

/* Copies size bytes at address into out through the kernel (process_vm_readv), which
 * fails instead of faulting on memory another thread just unmapped; returns the bytes
 * copied. Where a sandbox refuses the call, reads the words directly. */
size_t memory_map_copy(uintptr_t address, void *out, size_t size);

/* Reads at most size - 1 bytes of a (small, /proc) file into buffer, NUL-terminated, with raw
 * system calls; returns the length, or -1. */
long memory_map_read_small_file(const char *path, char *buffer, size_t size);

#endif
