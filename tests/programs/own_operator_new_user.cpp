// own_operator_new_user.cpp: 1,000 objects made and deleted through the program's own
// operator new and delete (own_operator_new.cpp), and one leaked: its block is malloc's,
// 20 bytes, and nothing else is reported. The wrap forms recorded the address new handed
// out as a second block, which delete took out, leaving malloc's as a leak every time.
#include "common.h"

#include <cstddef>

extern size_t live_bytes;
static int *volatile kept;

__attribute__((noinline)) static void leak_one()
{
    int *leaked = new int(7);
    kept = static_cast<int *>(hide(leaked));
}

int main()
{
    for (int i = 0; i < 1000; i++) {
        int *value = new int(i);
        delete value;
    }
    leak_one();
    say("live bytes %zu\n", live_bytes);
    return 0;
}
