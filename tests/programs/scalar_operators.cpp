// scalar_operators.cpp: a program that replaces only the plain and aligned operator new and
// delete, each block with a header in front (its size and a check word), as counting
// allocators do. libstdc++'s other operators call these (new[] calls new; a sized, nothrow
// or array delete calls delete): the preload form's own versions of those freed the address
// new handed out, 16 bytes into malloc's block (glibc aborted: "free(): invalid pointer"),
// and left the count wrong. Built with scalar_operators_user.cpp, whose calls reach them
// through the wrap forms' --wrap.
#include "common.h"

#include <cstddef>
#include <cstdlib>
#include <new>

long live_objects;

static const size_t check_word = 0x6f7065726174; // "operat"

static void *with_header(char *block, size_t offset, size_t size)
{
    auto *header = reinterpret_cast<size_t *>(block + offset) - 2;
    header[0] = size;
    header[1] = check_word ^ reinterpret_cast<size_t>(block);
    live_objects++;
    return block + offset;
}

static char *block_of(void *ptr, size_t offset)
{
    char *block = static_cast<char *>(ptr) - offset;
    if ((reinterpret_cast<size_t *>(ptr)[-1] ^ reinterpret_cast<size_t>(block)) != check_word) {
        say("operator delete: %p is no block of operator new's\n", ptr);
        _exit(3);
    }
    live_objects--;
    return block;
}

void *operator new(size_t size)
{
    char *block = static_cast<char *>(malloc(size + 16));
    if (block == nullptr)
        throw std::bad_alloc();
    return with_header(block, 16, size);
}

void operator delete(void *ptr) noexcept
{
    if (ptr != nullptr)
        free(block_of(ptr, 16));
}

void *operator new(size_t size, std::align_val_t alignment)
{
    void *block;
    size_t offset = static_cast<size_t>(alignment) < 16 ? 16 : static_cast<size_t>(alignment);
    if (posix_memalign(&block, offset, size + offset) != 0)
        throw std::bad_alloc();
    return with_header(static_cast<char *>(block), offset, size);
}

void operator delete(void *ptr, std::align_val_t alignment) noexcept
{
    size_t offset = static_cast<size_t>(alignment) < 16 ? 16 : static_cast<size_t>(alignment);
    if (ptr != nullptr)
        free(block_of(ptr, offset));
}

// A block of the operator new here, from a call inside: built into a library linked with
// -Bsymbolic-functions, the call never leaves the library, and the block must still come
// back to the delete here.
void *operators_new_inside(size_t size)
{
    return ::operator new(size);
}
