/* mapped_array.h: a growable array of fixed-size items in memory from mmap, for the leak
 * scan and the building of unwind tables (which must not allocate through the traced
 * malloc). A buffer it outgrows stays mapped until the array is released: the scan reads
 * /proc/self/maps once and then reads any memory listed there as readable, so nothing may be
 * unmapped in between. */
#ifndef MALLOC_TRACE_MAPPED_ARRAY_H
#define MALLOC_TRACE_MAPPED_ARRAY_H

#include <stdbool.h>
#include <stddef.h>

/* Doubling from a page, 48 buffers reach far beyond any address space. */
#define MAPPED_ARRAY_MAX_BUFFERS 48

struct mapped_array {
    void *items;
    size_t count;
    size_t capacity;
    size_t item_size;
    void *buffers[MAPPED_ARRAY_MAX_BUFFERS]; /* every buffer mapped, items' the last */
    size_t buffer_bytes[MAPPED_ARRAY_MAX_BUFFERS];
    unsigned buffer_count;
};

/* An empty array of items of item_size bytes. */
void mapped_array_init(struct mapped_array *array, size_t item_size);

/* Appends a copy of item; false when the kernel refuses memory. */
bool mapped_array_push(struct mapped_array *array, const void *item);

/* Unmaps every buffer and empties the array. */
void mapped_array_release(struct mapped_array *array);

#endif
