// another_allocator.cpp: a C++ program linked with another allocator (jemalloc, tcmalloc),
// whose operators it calls in every form, and one leak.
#include "common.h"

#include <new>

static void *volatile kept;

__attribute__((noinline)) static void leak_array()
{
    kept = hide(new int[100]);
}

int main()
{
    for (int i = 0; i < 100; i++) {
        delete new long(i);
        delete[] new (std::nothrow) int[10];
        ::operator delete(::operator new(64, std::align_val_t(64)), std::align_val_t(64));
    }
    leak_array();
    say("done\n");
    return 0;
}
