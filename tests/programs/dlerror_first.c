/* dlerror_first.c: the program's first dlerror() finds no error, and its first dlopen
 * allocates and frees as it does untraced. The tracer's look-ups at start (dlsym of C++
 * operators a C program does not have) left an error, whose text the program's dlerror()
 * then freed: two orphan free rows. */
#include "common.h"

#include <dlfcn.h>

int main(void)
{
    const char *error = dlerror();
    say("dlerror: %s\n", error != NULL ? error : "none");
    void *library = dlopen("libm.so.6", RTLD_NOW);
    say("dlopen: %s\n", library != NULL ? "loaded" : "failed");
    return 0;
}
