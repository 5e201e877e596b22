/* nested_function.c: a block allocated in a GCC nested function, whose DWARF lies inside
 * main's, outside main's code, where a look-up of the scopes around an address does not go:
 * its frame had the symbol table's name (`make.0`) and no file nor line. */
#include "common.h"

#include <stdlib.h>

static void *kept;

int main(int argc, char **argv)
{
    (void)argv;
    size_t extra = (size_t)argc;
    __attribute__((noinline)) void *make(size_t size)
    {
        return malloc(size + extra);
    }
    void *block = make(40);
    expect("leak", block, 40 + argc, "malloc", "*");
    kept = hide(block);
    return 0;
}
