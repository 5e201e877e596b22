// pool_nothrow_new.cpp: a library whose nothrow operator new hands out slots of a pool of its
// own (malloc past them), and whose operator delete takes them back. Built as a library for
// pool_nothrow_new_user.cpp.
#include <cstddef>
#include <cstdlib>
#include <new>

alignas(16) static char pool[64][64];
static bool used[64];

void *operator new(size_t size, const std::nothrow_t &) noexcept
{
    if (size <= sizeof pool[0])
        for (int i = 0; i < 64; i++)
            if (!used[i]) {
                used[i] = true;
                return pool[i];
            }
    return malloc(size);
}

void operator delete(void *ptr) noexcept
{
    char *slot = static_cast<char *>(ptr);
    if (slot >= pool[0] && slot < pool[64]) {
        used[(slot - pool[0]) / sizeof pool[0]] = false;
        return;
    }
    free(ptr);
}

int pool_slots_used()
{
    int count = 0;
    for (bool slot : used)
        count += slot;
    return count;
}
