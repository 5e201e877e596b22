/* allocator_api.c: a C program linked with jemalloc that hands the blocks malloc, calloc,
 * realloc and posix_memalign gave it to jemalloc's own API: sallocx, the size class a block
 * has, is nallocx's for its size. jemalloc's sallocx crashed on a block that came from
 * another allocator. One leak. */
#include "common.h"

#include <stdlib.h>

/* jemalloc's API (Debian 12 has no header for it without libjemalloc-dev). */
size_t sallocx(const void *ptr, int flags);
size_t nallocx(size_t size, int flags);
#define MALLOCX_LG_ALIGN(lg) (lg)

static void *volatile kept;

static const char *in_its_class(const void *ptr, size_t size, int flags)
{
    return sallocx(ptr, 0) == nallocx(size, flags) ? "yes" : "no";
}

__attribute__((noinline)) static void leak_block(void)
{
    kept = hide(malloc(48));
}

int main(void)
{
    void *block = malloc(100000);
    say("malloc %s", in_its_class(block, 100000, 0));
    block = realloc(block, 300000);
    say(", realloc %s", in_its_class(block, 300000, 0));
    free(block);
    block = calloc(10, 1000);
    say(", calloc %s", in_its_class(block, 10000, 0));
    free(block);
    if (posix_memalign(&block, 4096, 5000) != 0)
        return 1;
    say(", posix_memalign %s\n", in_its_class(block, 5000, MALLOCX_LG_ALIGN(12)));
    free(block);
    leak_block();
    return 0;
}
