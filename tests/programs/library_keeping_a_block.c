/* library_keeping_a_block.c: a shared library whose constructor allocates 77 bytes and keeps
 * them in its own data: a block reachable from that library only. */
#include <stdlib.h>
#include <string.h>

void *kept_by_library;

__attribute__((constructor)) static void keep_a_block(void)
{
    kept_by_library = malloc(77);
    if (kept_by_library != NULL)
        memset(kept_by_library, 1, 77);
}
