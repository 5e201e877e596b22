// pool_nothrow_new_user.cpp: nothrow news of a library's pool (pool_nothrow_new.cpp), deleted
// again, and 5 kept to the end: none is malloc's, so none is a leak. The preload form took
// the pool's slots for blocks of its own (the library's operator was not watched as the
// program's): 5 leak rows.
#include "common.h"

#include <new>

int pool_slots_used();
static void *volatile kept[5];

int main()
{
    for (int i = 0; i < 10; i++)
        ::operator delete(::operator new(32, std::nothrow));
    for (auto &slot : kept)
        slot = hide(::operator new(32, std::nothrow));
    say("slots used %d\n", pool_slots_used());
    return 0;
}
