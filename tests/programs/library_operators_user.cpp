// library_operators_user.cpp: a program whose operators are two libraries' (scalar_operators.cpp
// and array_operators.cpp built as libraries, in that order), each block with a header in
// front. Untraced, every call reaches the libraries' operators: at the end their counts are 1
// live object, 1 live array (the leaks) and 200 sized deletes. The preload form's own
// operators came first and bypassed them (the counts were 0), and a block a library handed
// out from its own new went to glibc's free from a sized delete: with -Bsymbolic-functions,
// glibc aborted.
#include "common.h"

#include <cstddef>
#include <new>

extern long live_objects, live_arrays, sized_deletes;
void *operators_new_inside(size_t size);
void *array_new_inside(size_t size);
static void *volatile kept[2];

__attribute__((noinline)) static void leak_one()
{
    kept[0] = hide(::operator new(48));
}

__attribute__((noinline)) static void leak_array()
{
    kept[1] = hide(::operator new[](40));
}

int main()
{
    for (int i = 0; i < 100; i++) {
        ::operator delete(operators_new_inside(24), 24);
        ::operator delete(operators_new_inside(24));
        ::operator delete(::operator new(32));
        ::operator delete(::operator new(32), 32);
        ::operator delete[](::operator new[](40));
        ::operator delete[](array_new_inside(40), 40);
    }
    leak_one();
    leak_array();
    say("live objects %ld, live arrays %ld, sized deletes %ld\n", live_objects, live_arrays,
        sized_deletes);
    return 0;
}
