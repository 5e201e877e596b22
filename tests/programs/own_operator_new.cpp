// own_operator_new.cpp: the program's own global operator new and delete, with a header in
// front of each block (a counting allocator): new takes size + 16 bytes from malloc and hands
// out the address 16 bytes in; delete gives the block back to free. Built with
// own_operator_new_user.cpp, whose calls reach them through the wrap forms' --wrap (a call
// in this file would not: ld wraps only references to symbols an object does not define).
#include <cstddef>
#include <cstdlib>
#include <new>

size_t live_bytes;

void *operator new(size_t size)
{
    auto *header = static_cast<size_t *>(malloc(size + 16));
    if (header == nullptr)
        throw std::bad_alloc();
    header[0] = size;
    live_bytes += size;
    return header + 2;
}

void operator delete(void *ptr) noexcept
{
    if (ptr == nullptr)
        return;
    size_t *header = static_cast<size_t *>(ptr) - 2;
    live_bytes -= header[0];
    free(header);
}

void operator delete(void *ptr, size_t) noexcept
{
    operator delete(ptr);
}
