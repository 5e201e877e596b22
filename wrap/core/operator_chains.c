/* operator_chains.c: see operator_chains.h. */
#define _GNU_SOURCE
#include "operator_chains.h"

#include <dlfcn.h>
#include <link.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tracer.h"

/* Weak: a static program has no dlsym unless it uses dlopen. It is not asked there (a static
 * executable exports nothing to find): the front-end's own test (its real operator lies in
 * the executable) decides. */
extern __typeof__(dlsym) dlsym __attribute__((weak));
extern __typeof__(dlerror) dlerror __attribute__((weak));
extern __typeof__(dlopen) dlopen __attribute__((weak));
extern __typeof__(dlclose) dlclose __attribute__((weak));
extern __typeof__(_dl_find_object) _dl_find_object __attribute__((weak));

/* The operator each chain starts with: the operator itself. */
static const char *const first_called[MALLOC_TRACE_CHAIN_COUNT] = {
    [MALLOC_TRACE_CHAIN_NEW] = "_Znwm",
    [MALLOC_TRACE_CHAIN_NEW_ALIGNED] = "_ZnwmSt11align_val_t",
    [MALLOC_TRACE_CHAIN_NEW_ARRAY] = "_Znam",
    [MALLOC_TRACE_CHAIN_NEW_ARRAY_ALIGNED] = "_ZnamSt11align_val_t",
    [MALLOC_TRACE_CHAIN_NEW_NOTHROW] = "_ZnwmRKSt9nothrow_t",
    [MALLOC_TRACE_CHAIN_NEW_ALIGNED_NOTHROW] = "_ZnwmSt11align_val_tRKSt9nothrow_t",
    [MALLOC_TRACE_CHAIN_NEW_ARRAY_NOTHROW] = "_ZnamRKSt9nothrow_t",
    [MALLOC_TRACE_CHAIN_NEW_ARRAY_ALIGNED_NOTHROW] = "_ZnamSt11align_val_tRKSt9nothrow_t",
    [MALLOC_TRACE_CHAIN_DELETE] = "_ZdlPv",
    [MALLOC_TRACE_CHAIN_DELETE_ALIGNED] = "_ZdlPvSt11align_val_t",
    [MALLOC_TRACE_CHAIN_DELETE_ARRAY] = "_ZdaPv",
    [MALLOC_TRACE_CHAIN_DELETE_ARRAY_ALIGNED] = "_ZdaPvSt11align_val_t",
    [MALLOC_TRACE_CHAIN_DELETE_SIZED] = "_ZdlPvm",
    [MALLOC_TRACE_CHAIN_DELETE_NOTHROW] = "_ZdlPvRKSt9nothrow_t",
    [MALLOC_TRACE_CHAIN_DELETE_SIZED_ALIGNED] = "_ZdlPvmSt11align_val_t",
    [MALLOC_TRACE_CHAIN_DELETE_ALIGNED_NOTHROW] = "_ZdlPvSt11align_val_tRKSt9nothrow_t",
    [MALLOC_TRACE_CHAIN_DELETE_ARRAY_SIZED] = "_ZdaPvm",
    [MALLOC_TRACE_CHAIN_DELETE_ARRAY_NOTHROW] = "_ZdaPvRKSt9nothrow_t",
    [MALLOC_TRACE_CHAIN_DELETE_ARRAY_SIZED_ALIGNED] = "_ZdaPvmSt11align_val_t",
    [MALLOC_TRACE_CHAIN_DELETE_ARRAY_ALIGNED_NOTHROW] = "_ZdaPvSt11align_val_tRKSt9nothrow_t",
};

/* What libstdc++'s version of an operator calls next, as GCC 12's libsupc++ does (NULL: it
 * allocates or frees itself). */
static const char *called_next(const char *mangled)
{
    static const char *const calls[][2] = {
        {"_Znam", "_Znwm"},
        {"_ZnamSt11align_val_t", "_ZnwmSt11align_val_t"},
        {"_ZnwmRKSt9nothrow_t", "_Znwm"},
        {"_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnwmSt11align_val_t"},
        {"_ZnamRKSt9nothrow_t", "_Znam"},
        {"_ZnamSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_t"},
        {"_ZdaPv", "_ZdlPv"},
        {"_ZdaPvSt11align_val_t", "_ZdlPvSt11align_val_t"},
        {"_ZdlPvm", "_ZdlPv"},
        {"_ZdlPvRKSt9nothrow_t", "_ZdlPv"},
        {"_ZdlPvmSt11align_val_t", "_ZdlPvSt11align_val_t"},
        {"_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdlPvSt11align_val_t"},
        {"_ZdaPvm", "_ZdaPv"},
        {"_ZdaPvRKSt9nothrow_t", "_ZdaPv"},
        {"_ZdaPvmSt11align_val_t", "_ZdaPvSt11align_val_t"},
        {"_ZdaPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_t"},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
        if (strcmp(calls[i][0], mangled) == 0)
            return calls[i][1];
    return NULL;
}

/* The preload form's own operators (see drop_operator_frames in tracer.c). */
extern const char __start_malloc_trace_operators[] __attribute__((weak));
extern const char __stop_malloc_trace_operators[] __attribute__((weak));

/* The first module found to hold the program's operators (the executable, or a library
 * with operators of its own) and the first found to hold others (libstdc++), so that a look
 * at either is two compares: the hooks ask on every operator call of the wrap forms. Each is
 * set once (state: 0 unset, 1 being set, 2 set), never a mix of two modules' bounds. A module
 * unloaded and another mapped where it lay would be taken for it; operators come from
 * modules that stay. */
struct module_bounds {
    atomic_int state;
    uintptr_t start, end;
};
static struct module_bounds programs_module, others_module;

static bool within(struct module_bounds *bounds, uintptr_t address)
{
    return atomic_load_explicit(&bounds->state, memory_order_acquire) == 2
           && address >= bounds->start && address < bounds->end;
}

static void set_bounds(struct module_bounds *bounds, const struct dl_find_object *found)
{
    int unset = 0;
    if (atomic_compare_exchange_strong(&bounds->state, &unset, 1)) {
        bounds->start = (uintptr_t)found->dlfo_map_start;
        bounds->end = (uintptr_t)found->dlfo_map_end;
        atomic_store_explicit(&bounds->state, 2, memory_order_release);
    }
}

static bool is_executable(const struct link_map *module)
{
    return module != NULL && module->l_name != NULL && module->l_name[0] == '\0';
}

/* By its file's name: libstdc++ is found under its soname (libstdc++.so.6) or a versioned
 * file name beside it. */
static bool is_libstdcxx(const struct link_map *module)
{
    const char *name = module != NULL ? module->l_name : NULL;
    if (name == NULL)
        return false;
    const char *slash = strrchr(name, '/');
    const char *base = slash != NULL ? slash + 1 : name;
    return strncmp(base, "libstdc++.so", sizeof "libstdc++.so" - 1) == 0;
}

static bool is_libstdcxx_definition(const void *definition)
{
    struct dl_find_object found;
    return _dl_find_object != NULL
           && _dl_find_object((void *)(uintptr_t)definition, &found) == 0 // NOLINT(performance-no-int-to-ptr)
           && is_libstdcxx(found.dlfo_link_map);
}

/* Whether a module's operators are the program's, for a core that lies in `core`. A wrap
 * form's core (in the executable) sees only the executable's calls of malloc (ld --wrap
 * rewrites no others): a library's operator is then taken for libstdc++'s, whose result is
 * recorded as the operator's block. */
static bool holds_programs_operators(const struct link_map *module, const struct link_map *core)
{
    return is_executable(module) || (!is_executable(core) && !is_libstdcxx(module));
}

/* The module this core lies in: the executable (the wrap forms) or malloc-trace.so. */
static bool find_core(struct dl_find_object *core)
{
    return _dl_find_object != NULL && _dl_find_object((void *)find_core, core) == 0;
}

bool operator_chains_is_programs(const void *function)
{
    uintptr_t address = (uintptr_t)function;
    if (function == NULL || within(&others_module, address))
        return false;
    if (within(&programs_module, address))
        return true;
    /* Lock-free (glibc's _dl_find_object): also asked before the tracer starts, from another
     * library's constructor, and in a signal handler. Unknown: taken for libstdc++'s, whose
     * block is recorded. */
    struct dl_find_object found, core;
    if (_dl_find_object == NULL || _dl_find_object((void *)address, &found) != 0 // NOLINT(performance-no-int-to-ptr)
        || !find_core(&core))
        return false;
    bool programs = holds_programs_operators(found.dlfo_link_map, core.dlfo_link_map);
    set_bounds(programs ? &programs_module : &others_module, &found);
    return programs;
}

/* A name nothing defines (a C program's) leaves an error for the program's next dlerror(),
 * and its text in a block the program would free: both taken back, the second call freeing
 * the first one's text. */
static void take_back_errors(void)
{
    if (dlerror != NULL) {
        dlerror();
        dlerror();
    }
}

MALLOC_TRACE_HOOK void *malloc_trace_loaded_symbol(const char *library, const char *name)
{
    if (dlopen == NULL || dlsym == NULL)
        return NULL;
    malloc_trace_guard += MALLOC_TRACE_GUARD_INTERNAL; /* dlopen and dlsym allocate */
    void *handle = dlopen(library, RTLD_LAZY | RTLD_NOLOAD);
    void *symbol = handle != NULL ? dlsym(handle, name) : NULL;
    if (handle != NULL)
        dlclose(handle); /* drops the reference RTLD_NOLOAD took */
    if (symbol == NULL)
        take_back_errors();
    malloc_trace_guard -= MALLOC_TRACE_GUARD_INTERNAL;
    return symbol;
}

/* dl_iterate_phdr's callback: the first module it visits is the executable. */
static int find_interpreter(struct dl_phdr_info *info, size_t size, void *found)
{
    (void)size;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_INTERP)
            *(bool *)found = true;
    return 1;
}

/* Whether the loader can be asked: not in a static program (a static PIE has no interpreter
 * either). The executable's headers tell, also for a program started as `ld.so PROGRAM`,
 * which has no AT_BASE. */
static bool dynamic_program(void)
{
    bool interpreted = false;
    if (dlsym != NULL && dlopen != NULL)
        dl_iterate_phdr(find_interpreter, &interpreted);
    return interpreted;
}

/* A library that defines malloc as well (jemalloc, tcmalloc) is an allocator, not the
 * program: its operators take blocks from it without a call of malloc that a watch would
 * see. Its operators are left out, as if it had none: the preload form's own serve the
 * program, allocating from the same allocator as its malloc (next_allocator.h), but for its
 * nothrow ones (malloc_trace_next_operator). Its malloc (0: it defines none). */
static const void *allocator_librarys_malloc(const void *definition)
{
    struct dl_find_object found;
    if (_dl_find_object == NULL
        || _dl_find_object((void *)(uintptr_t)definition, &found) != 0 // NOLINT(performance-no-int-to-ptr)
        || found.dlfo_link_map == NULL || is_executable(found.dlfo_link_map))
        return NULL;
    /* The library's own, or its libc's. */
    const char *its_malloc = malloc_trace_loaded_symbol(found.dlfo_link_map->l_name, "malloc");
    bool its_own = its_malloc != NULL && its_malloc >= (const char *)found.dlfo_map_start
                   && its_malloc < (const char *)found.dlfo_map_end;
    return its_own ? its_malloc : NULL;
}

static bool is_allocator_library(const void *definition)
{
    return allocator_librarys_malloc(definition) != NULL;
}

/* The definition a call of name reaches from outside the tracer: the first in the loader's
 * search order, or, where that is the preload form's own, the next after it (the preload
 * library comes right after the executable, so a library's operators are found there). */
static const void *definition_of(const char *name)
{
    const char *definition = dlsym(RTLD_DEFAULT, name);
    if (definition != NULL && definition >= __start_malloc_trace_operators
        && definition < __stop_malloc_trace_operators)
        definition = dlsym(RTLD_NEXT, name);
    return definition;
}

#define NONE_OF_THE_PROGRAMS ((const void *)1)
static _Atomic(const void *) programs_operators[MALLOC_TRACE_CHAIN_COUNT];

/* The program's operator along the chain: the first definition a call reaches that is not
 * libstdc++'s (the executable's, or a library's: one linked with -Bsymbolic-functions calls
 * its own operators inside, and the blocks it hands out must come back to its delete). Any
 * other ends the chain with none: an allocator library's, and in the wrap forms a library's
 * (its calls of malloc are not seen), whose operators call no other of the chain. */
static const void *find_chain(enum malloc_trace_chain chain)
{
    const void *found = NONE_OF_THE_PROGRAMS;
    if (dynamic_program()) {
        malloc_trace_guard += MALLOC_TRACE_GUARD_INTERNAL; /* dlsym allocates */
        bool failed = false;
        for (const char *name = first_called[chain]; name != NULL; name = called_next(name)) {
            const void *definition = definition_of(name);
            failed |= definition == NULL;
            if (definition == NULL || is_libstdcxx_definition(definition))
                continue; /* libstdc++'s calls the next */
            if (!is_allocator_library(definition) && operator_chains_is_programs(definition))
                found = definition;
            break; /* any other calls no operator of the chain */
        }
        if (failed)
            take_back_errors();
        malloc_trace_guard -= MALLOC_TRACE_GUARD_INTERNAL;
    }
    atomic_store_explicit(&programs_operators[chain], found, memory_order_release);
    return found;
}

MALLOC_TRACE_HOOK const void *malloc_trace_next_operator(const char *mangled)
{
    if (!dynamic_program())
        return NULL;
    malloc_trace_guard += MALLOC_TRACE_GUARD_INTERNAL;
    const char *definition = dlsym(RTLD_NEXT, mangled);
    if (definition == NULL)
        take_back_errors();
    else {
        /* An allocator library's operator hands out its blocks, which the preload form's
         * delete gives back to its free where its malloc is the one the preload form calls
         * (next_allocator.h): it serves, as it does untraced (it calls no operator new of
         * the program's, and under valgrind, which replaces libstdc++'s, its blocks stay
         * its own). Another allocator's: libstdc++'s own, which turns a new-handler's
         * bad_alloc into NULL, as the preload form's loop cannot. */
        const void *its_malloc = allocator_librarys_malloc(definition);
        const void *next_malloc = its_malloc != NULL ? dlsym(RTLD_NEXT, "malloc") : NULL;
        if (its_malloc != NULL && next_malloc == NULL)
            take_back_errors();
        if (its_malloc != NULL && its_malloc != next_malloc)
            definition = malloc_trace_loaded_symbol("libstdc++.so.6", mangled);
    }
    malloc_trace_guard -= MALLOC_TRACE_GUARD_INTERNAL;
    return definition;
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
