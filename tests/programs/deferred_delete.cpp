// deferred_delete.cpp: the program's own operator new (malloc's block as it is) and an
// operator delete that keeps up to 64 blocks and frees them only when release_kept() is
// called, as an allocator with deferred frees does: a block stays allocated until then. Built
// with deferred_delete_user.cpp, whose calls reach them through the wrap forms' --wrap.
#include "common.h"

#include <cstddef>
#include <cstdlib>
#include <new>

static void *kept[64];
static int kept_count;

void *operator new(size_t size)
{
    void *block = malloc(size != 0 ? size : 1);
    if (block == nullptr)
        throw std::bad_alloc();
    return block;
}

void operator delete(void *ptr) noexcept
{
    if (ptr == nullptr)
        return;
    if (kept_count < 64)
        kept[kept_count++] = ptr;
    else
        free(ptr);
}

void release_kept()
{
    while (kept_count > 0)
        free(kept[--kept_count]);
}
