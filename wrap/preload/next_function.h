/* next_function.h: the next definition (dlsym(RTLD_NEXT)) of a libc function that the preload
 * library defines too, for the ones it finds by name: dlclose, the limit setters, the calls
 * that change the process's root or ids. Each front-end file finds its own as the library
 * starts, in a constructor; a call that comes before that (another library's constructor)
 * finds it then. Not at the program's first call: a dlsym that succeeds clears the error that
 * a failed one of the program's left for its dlerror(). */
#ifndef MALLOC_TRACE_NEXT_FUNCTION_H
#define MALLOC_TRACE_NEXT_FUNCTION_H

#include <stdatomic.h>

void *next_function(_Atomic(void *) *cached, const char *name);

#endif
