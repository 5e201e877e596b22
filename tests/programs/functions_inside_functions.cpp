// functions_inside_functions.cpp: blocks allocated in functions defined inside main, a lambda
// and a member function of a local class, kept out of line. Their DWARF lies inside main's,
// outside main's code, where a look-up of the scopes around an address does not go: their
// frames had the symbol table's name and no file nor line.
#include "common.h"

#include <cstdlib>

static void *kept[2];

int main()
{
    auto make = [](size_t size) __attribute__((noinline)) { return malloc(size); };
    struct Local {
        static __attribute__((noinline)) void *make(size_t size) { return malloc(size); }
    };
    void *from_lambda = make(41);
    expect("leak", from_lambda, 41, "malloc", "*");
    kept[0] = hide(from_lambda);
    void *from_local_class = Local::make(43);
    expect("leak", from_local_class, 43, "malloc", "*");
    kept[1] = hide(from_local_class);
    return 0;
}
