// scalar_operators_user.cpp: every operator the program does not define (scalar_operators.cpp)
// called once on a block of the ones it does, 100 times over, then a leak through new[] and
// one through aligned new[]. Prints the operators' count of live objects, which must be 2 as
// untraced; only the two leaks are reported, as malloc's and posix_memalign's blocks.
#include "common.h"

#include <cstddef>
#include <new>

extern long live_objects;
static void *volatile kept[2];

__attribute__((noinline)) static void leak_array()
{
    kept[0] = hide(::operator new[](48));
}

__attribute__((noinline)) static void leak_aligned_array()
{
    kept[1] = hide(::operator new[](200, static_cast<std::align_val_t>(64)));
}

int main()
{
    const std::align_val_t line = static_cast<std::align_val_t>(64);
    for (int i = 0; i < 100; i++) {
        ::operator delete(::operator new(24), 24);
        ::operator delete(::operator new(24), std::nothrow);
        ::operator delete[](::operator new[](40));
        ::operator delete[](::operator new[](40), 40);
        ::operator delete[](::operator new[](40), std::nothrow);
        ::operator delete[](::operator new[](40, std::nothrow));
        ::operator delete(::operator new(100, line), 100, line);
        ::operator delete(::operator new(100, line), line, std::nothrow);
        ::operator delete[](::operator new[](100, line), line);
        ::operator delete[](::operator new[](100, line), 100, line);
        ::operator delete[](::operator new[](100, line), line, std::nothrow);
        ::operator delete[](::operator new[](100, line, std::nothrow), line);
    }
    leak_array();
    leak_aligned_array();
    say("live objects %ld\n", live_objects);
    return 0;
}
