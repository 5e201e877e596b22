/* mapped_array.c: see mapped_array.h. */
#include "mapped_array.h"

#include <string.h>

#include "os.h"

void mapped_array_init(struct mapped_array *array, size_t item_size)
{
    memset(array, 0, sizeof *array);
    array->item_size = item_size;
}

bool mapped_array_push(struct mapped_array *array, const void *item)
{
    if (array->count == array->capacity) {
        size_t bytes = array->capacity ? array->capacity * array->item_size * 2 : 4096;
        if (array->buffer_count == MAPPED_ARRAY_MAX_BUFFERS)
            return false;
        char *grown = os_map(bytes);
        if (grown == NULL)
            return false;
        if (array->count)
            memcpy(grown, array->items, array->count * array->item_size);
        array->buffers[array->buffer_count] = grown;
        array->buffer_bytes[array->buffer_count++] = bytes;
        array->items = grown;
        array->capacity = bytes / array->item_size;
    }
    memcpy((char *)array->items + array->count * array->item_size, item, array->item_size);
    array->count++;
    return true;
}

void mapped_array_release(struct mapped_array *array)
{
    for (unsigned i = 0; i < array->buffer_count; i++)
        os_unmap(array->buffers[i], array->buffer_bytes[i]);
    mapped_array_init(array, array->item_size);
}
