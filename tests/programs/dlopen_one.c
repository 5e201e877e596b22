/* dlopen_one.c: `dlopen_one LIBRARY`: loads the library, whose constructors run inside
 * dlopen (with the loader's lock held), and says whether it loaded. */
#include "common.h"

#include <dlfcn.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    void *library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    say(library != NULL ? "loaded\n" : "not loaded\n");
    return library != NULL ? 0 : 1;
}
