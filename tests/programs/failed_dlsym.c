/* failed_dlsym.c: a dlsym that fails leaves glibc's error state (a block of _dlerror_run's,
 * held in libc's thread-local storage) for the program's dlerror(). The tracer's own dlsym
 * calls in the leak passes, once they succeeded, freed that block inside the tracer: its
 * record stayed in the table and was written as a leak (haproxy's `malloc-trace check`
 * failed), and the program's dlerror() found no error any more. */
#include "common.h"

#include <dlfcn.h>
#include <malloctrace.h>
#include <stdlib.h>

int main(void)
{
    void *missing = dlsym(RTLD_DEFAULT, "malloc_trace_test_no_such_symbol");
    void *leak = forget(malloc(11));
    expect("leak", hide(leak), 11, "malloc", "~main");
    long found = malloc_trace_check_leaks();
    const char *error = dlerror();
    say("FOUND %ld %s %s\n", found, missing == NULL ? "missing" : "found",
        error != NULL && strstr(error, "malloc_trace_test_no_such_symbol") != NULL ? "error kept"
                                                                                  : "error lost");
    return 0;
}
