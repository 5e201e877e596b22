// library_operators_user.cpp: a program whose operator new and delete are a library's
// (scalar_operators.cpp built as one), each block with a header in front. Untraced, every
// call reaches the library's operators, and its count of live objects is 1 at the end (the
// leak). The preload form's own operators came first and bypassed them (the count was 0),
// and a block the library handed out from its own new went to glibc's free from a sized
// delete: with -Bsymbolic-functions, glibc aborted.
#include "common.h"

#include <cstddef>
#include <new>

extern long live_objects;
void *operators_new_inside(size_t size);
static void *volatile kept;

__attribute__((noinline)) static void leak_one()
{
    kept = hide(::operator new(48));
}

int main()
{
    for (int i = 0; i < 100; i++) {
        ::operator delete(operators_new_inside(24), 24);
        ::operator delete(operators_new_inside(24));
        ::operator delete(::operator new(32));
        ::operator delete(::operator new(32), 32);
        ::operator delete[](::operator new[](40));
    }
    leak_one();
    say("live objects %ld\n", live_objects);
    return 0;
}
