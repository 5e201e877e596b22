// array_operators.cpp: a library's operator new[] and delete[] (plain and sized), each block
// with a header in front, and a sized scalar delete that counts its calls and then calls the
// plain one (scalar_operators.cpp's, in the library before this one). Built as a library for
// library_operators_user.cpp.
#include "common.h"

#include <cstddef>
#include <cstdlib>
#include <new>

long live_arrays, sized_deletes;

void *operator new[](size_t size)
{
    char *block = static_cast<char *>(malloc(size + 16));
    if (block == nullptr)
        throw std::bad_alloc();
    live_arrays++;
    return block + 16;
}

void operator delete[](void *ptr) noexcept
{
    if (ptr != nullptr) {
        live_arrays--;
        free(static_cast<char *>(ptr) - 16);
    }
}

void operator delete[](void *ptr, size_t) noexcept
{
    ::operator delete[](ptr);
}

void operator delete(void *ptr, size_t) noexcept
{
    sized_deletes++;
    ::operator delete(ptr);
}

// A block of the operator new[] here, from a call inside (see operators_new_inside).
void *array_new_inside(size_t size)
{
    return new char[size];
}
