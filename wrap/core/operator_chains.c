/* operator_chains.c: see operator_chains.h. */
#define _GNU_SOURCE
#include "operator_chains.h"

#include <dlfcn.h>
#include <link.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>

#include "tracer.h"
#include "unwind_table.h"

/* Weak: a static program has no dlsym unless it uses dlopen. It is not asked there (a static
 * executable exports nothing to find): the front-end's own test (its real operator lies in
 * the executable) decides. */
extern __typeof__(dlsym) dlsym __attribute__((weak));
extern __typeof__(dlerror) dlerror __attribute__((weak));

/* The operator each chain starts with, as libstdc++ (GCC 12's libsupc++) calls it. */
static const char *const first_called[MALLOC_TRACE_CHAIN_COUNT] = {
    [MALLOC_TRACE_CHAIN_NEW] = "_Znwm",
    [MALLOC_TRACE_CHAIN_NEW_ALIGNED] = "_ZnwmSt11align_val_t",
    [MALLOC_TRACE_CHAIN_NEW_ARRAY] = "_Znam",
    [MALLOC_TRACE_CHAIN_NEW_ARRAY_ALIGNED] = "_ZnamSt11align_val_t",
    [MALLOC_TRACE_CHAIN_DELETE] = "_ZdlPv",
    [MALLOC_TRACE_CHAIN_DELETE_ALIGNED] = "_ZdlPvSt11align_val_t",
    [MALLOC_TRACE_CHAIN_DELETE_ARRAY] = "_ZdaPv",
    [MALLOC_TRACE_CHAIN_DELETE_ARRAY_ALIGNED] = "_ZdaPvSt11align_val_t",
};

/* What libstdc++'s version of an operator of a chain calls next (NULL: it allocates or frees
 * itself). */
static const char *called_next(const char *mangled)
{
    static const char *const calls[][2] = {
        {"_Znam", "_Znwm"},
        {"_ZnamSt11align_val_t", "_ZnwmSt11align_val_t"},
        {"_ZdaPv", "_ZdlPv"},
        {"_ZdaPvSt11align_val_t", "_ZdlPvSt11align_val_t"},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
        if (strcmp(calls[i][0], mangled) == 0)
            return calls[i][1];
    return NULL;
}

#define NONE_OF_THE_PROGRAMS ((const void *)1)
static _Atomic(const void *) programs_operators[MALLOC_TRACE_CHAIN_COUNT];

static const void *find_chain(enum malloc_trace_chain chain)
{
    const void *found = NONE_OF_THE_PROGRAMS;
    struct dl_find_object executable;
    if (dlsym != NULL && getauxval(AT_BASE) != 0 && unwind_table_find_executable(&executable)) {
        malloc_trace_guard += MALLOC_TRACE_GUARD_INTERNAL; /* dlsym allocates */
        bool failed = false;
        for (const char *name = first_called[chain]; name != NULL; name = called_next(name)) {
            const char *definition = dlsym(RTLD_DEFAULT, name);
            failed |= definition == NULL;
            if (definition != NULL && definition >= (const char *)executable.dlfo_map_start
                && definition < (const char *)executable.dlfo_map_end) {
                found = definition;
                break;
            }
        }
        /* A name nothing defines (a C program's) leaves an error for the program's next
         * dlerror(), and its text in a block the program would free: both taken back here,
         * the second call freeing the first one's text. */
        if (failed && dlerror != NULL) {
            dlerror();
            dlerror();
        }
        malloc_trace_guard -= MALLOC_TRACE_GUARD_INTERNAL;
    }
    atomic_store_explicit(&programs_operators[chain], found, memory_order_release);
    return found;
}

void operator_chains_find(void)
{
    for (int chain = 0; chain < MALLOC_TRACE_CHAIN_COUNT; chain++)
        find_chain((enum malloc_trace_chain)chain);
}

MALLOC_TRACE_HOOK const void *malloc_trace_programs_operator(enum malloc_trace_chain chain)
{
    if (chain == MALLOC_TRACE_CHAIN_NONE)
        return NULL;
    const void *found = atomic_load_explicit(&programs_operators[chain], memory_order_acquire);
    if (__builtin_expect(found == NULL, 0)) /* a call before the tracer's start */
        found = find_chain(chain);
    return found == NONE_OF_THE_PROGRAMS ? NULL : found;
}
