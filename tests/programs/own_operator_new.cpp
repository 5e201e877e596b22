// own_operator_new.cpp: the program's own global operator new and delete, with a header in
// front of each block (a counting allocator) and a tracking node for each in a list: new
// takes size + 16 bytes from malloc, hands out the address 16 bytes in, then takes a node
// from malloc; delete frees the node and the block. Built with own_operator_new_user.cpp,
// whose calls reach them through the wrap forms' --wrap (a call in this file would not: ld
// wraps only references to symbols an object does not define). A node holds its block's
// address hidden, so that a leaked object stays a leak. operator new[] serves arrays from a
// pool of its own, which operator delete[] never takes back: no malloc, so nothing to trace
// (the preload form sees nothing of it either).
#include "common.h"

#include <cstddef>
#include <cstdlib>
#include <new>

size_t live_bytes;

struct node {
    node *next;
    void *block;
    size_t size;
};
static node *nodes;

void *operator new(size_t size)
{
    auto *header = static_cast<size_t *>(malloc(size + 16));
    if (header == nullptr)
        throw std::bad_alloc();
    auto *tracked = static_cast<node *>(malloc(sizeof(node)));
    if (tracked == nullptr) {
        free(header);
        throw std::bad_alloc();
    }
    *tracked = {nodes, hide(header), size};
    nodes = tracked;
    header[0] = size;
    live_bytes += size;
    return header + 2;
}

void operator delete(void *ptr) noexcept
{
    if (ptr == nullptr)
        return;
    size_t *header = static_cast<size_t *>(ptr) - 2;
    for (node **at = &nodes; *at != nullptr; at = &(*at)->next) {
        if ((*at)->block == hide(header)) {
            node *found = *at;
            *at = found->next;
            free(found);
            break;
        }
    }
    live_bytes -= header[0];
    free(header);
}

void operator delete(void *ptr, size_t) noexcept
{
    operator delete(ptr);
}

static char pool[32768] __attribute__((aligned(16)));
static size_t pool_used;

void *operator new[](size_t size)
{
    size_t rounded = (size + 15) / 16 * 16;
    if (size > sizeof pool || rounded > sizeof pool - pool_used)
        throw std::bad_alloc();
    void *block = pool + pool_used;
    pool_used += rounded;
    return block;
}

void operator delete[](void *) noexcept
{
}

void operator delete[](void *, size_t) noexcept
{
}
