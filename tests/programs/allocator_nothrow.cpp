// allocator_nothrow.cpp: a C++ program linked with an allocator library (jemalloc,
// tcmalloc), whose nothrow operator new the program reaches: std::stable_sort takes its
// buffer from it (std::get_temporary_buffer), and the program calls it and deletes the
// object. One leak, from a nothrow new.
#include "common.h"

#include <algorithm>
#include <new>
#include <vector>

static void *volatile kept;

__attribute__((noinline)) static void leak_object()
{
    kept = hide(new (std::nothrow) long(7));
}

int main()
{
    std::vector<int> values(1000);
    for (int i = 0; i < 1000; i++)
        values[i] = (i * 7919) % 1000;
    std::stable_sort(values.begin(), values.end());
    int *object = new (std::nothrow) int(5);
    say("%d %d %d\n", values.front(), values.back(), *object);
    delete object;
    leak_object();
    return 0;
}
