// own_operator_new_user.cpp: 1,000 objects made and deleted through the program's own
// operator new and delete (own_operator_new.cpp), one leaked (its block is malloc's, 20
// bytes, its tracking node reachable), 1,000 arrays from the operator's own pool and one
// leaked from it (no row: no malloc), then an array too large for the pool, whose
// std::bad_alloc is caught, and a block of 33 bytes leaked after it. Nothing else is
// reported. The wrap forms recorded the address new handed out as a second block, which
// delete took out, leaving malloc's as a leak every time; and the block after the throw
// stayed reachable through the state the throw left behind.
#include "common.h"

#include <cstddef>
#include <cstdlib>
#include <new>

extern size_t live_bytes;
static void *volatile kept;

__attribute__((noinline)) static void leak_one()
{
    int *leaked = new int(7);
    kept = hide(leaked);
}

__attribute__((noinline)) static void leak_after_a_throw()
{
    try {
        volatile size_t huge = (size_t)1 << 50;
        kept = new char[huge];
    } catch (const std::bad_alloc &) {
    }
    kept = forget(malloc(33));
}

int main()
{
    for (int i = 0; i < 1000; i++) {
        int *value = new int(i);
        delete value;
        char *text = new char[8];
        delete[] text;
    }
    kept = hide(new char[10]); // the pool's: no row, as nothing of malloc's is in it
    leak_one();
    leak_after_a_throw();
    say("live bytes %zu\n", live_bytes);
    return 0;
}
