/* preload_cxx.c: the C++ operators for LD_PRELOAD, written in C so that C programs do not
 * load libstdc++. The throwing ones allocate directly from the allocator behind the preload
 * form's malloc (next_allocator.h: libstdc++'s operator new would call malloc, which is ours
 * too, and record the block twice), with libstdc++'s semantics: the new-handler loop,
 * std::bad_alloc, size 0 as 1, a power-of-two alignment.
 * libstdc++ itself is looked up as the library starts, and when needed if it came later. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "../core/tracer.h"
#include "../shared/watched_operators.h"
#include "next_allocator.h"

/* The operators lie in the section of the wrap form's (see drop_operator_frames in
 * tracer.c): a stack taken inside libstdc++'s nothrow operator leaves their frames out. */
#define INTERPOSE __attribute__((visibility("default"), section("malloc_trace_operators")))

typedef void (*new_handler)(void);
typedef new_handler get_new_handler_fn(void);
typedef void throw_bad_alloc_fn(void);

/* libstdc++'s functions the new-handler loop and a failure call. */
enum libstdcxx_helper { GET_NEW_HANDLER, THROW_BAD_ALLOC, LIBSTDCXX_HELPER_COUNT };
static const char *const libstdcxx_helper_names[LIBSTDCXX_HELPER_COUNT] = {
    "_ZSt15get_new_handlerv", "_ZSt17__throw_bad_allocv",
};
static _Atomic(void *) libstdcxx_helpers[LIBSTDCXX_HELPER_COUNT];

/* Looked up as the library starts (see find_libstdcxx_operators), and again when needed while
 * not found: libstdc++ may come later, also with dlopen(RTLD_LOCAL) by a C program, where a
 * weak reference would have stayed NULL. */
static void *libstdcxx_helper(enum libstdcxx_helper which)
{
    void *function = atomic_load_explicit(&libstdcxx_helpers[which], memory_order_acquire);
    if (function != NULL)
        return function;
    const char *name = libstdcxx_helper_names[which];
    function = malloc_trace_loaded_symbol(NULL, name);
    if (function == NULL)
        function = malloc_trace_loaded_symbol("libstdc++.so.6", name);
    atomic_store_explicit(&libstdcxx_helpers[which], function, memory_order_release);
    return function;
}

static void *fail(bool nothrow)
{
    if (nothrow)
        return NULL;
    throw_bad_alloc_fn *throw_bad_alloc = (throw_bad_alloc_fn *)libstdcxx_helper(THROW_BAD_ALLOC);
    if (throw_bad_alloc != NULL)
        throw_bad_alloc();
    abort(); /* an operator new called without libstdc++ in reach: nothing can catch it */
}

/* aligned: alignment given (std::align_val_t); it must then be a power of two (0 is not). */
static void *allocate(size_t size, bool aligned, size_t alignment, bool nothrow)
{
    if (aligned && (alignment == 0 || (alignment & (alignment - 1)) != 0))
        return fail(nothrow);
    if (size == 0)
        size = 1;
    for (;;) {
        void *ptr;
        MALLOC_TRACE_REAL_CALL(ptr, aligned ? next_memalign(alignment, size) : next_malloc(size));
        if (ptr != NULL)
            return ptr;
        get_new_handler_fn *get_new_handler =
            (get_new_handler_fn *)libstdcxx_helper(GET_NEW_HANDLER);
        new_handler handler = get_new_handler != NULL ? get_new_handler() : NULL;
        if (handler == NULL)
            return fail(nothrow);
        handler();
    }
}

/* The nothrow operators are the next definition's (malloc_trace_next_operator): libstdc++'s
 * own, a library's before it, or the allocator library's the preload form's malloc calls.
 * libstdc++'s call the throwing operator and turn any exception, a new-handler's included,
 * into NULL, which C cannot do. Without libstdc++ in reach, our loop. The call is watched
 * (tracer.h): the throwing operator it calls is ours, which records the block, then recorded
 * again as the nothrow one's; or the program's own, whose malloc holds it. Under the
 * tracer's guard, as it ran before, a new-handler's calls went unseen (a block it freed
 * stayed a leak). */
typedef void *nothrow_new_fn(size_t size, const void *tag);
typedef void *aligned_nothrow_new_fn(size_t size, size_t alignment, const void *tag);

enum nothrow_new { NOTHROW_NEW, NOTHROW_NEW_ALIGNED, NOTHROW_NEW_ARRAY,
                   NOTHROW_NEW_ARRAY_ALIGNED, NOTHROW_NEW_COUNT };
static const char *const nothrow_new_names[NOTHROW_NEW_COUNT] = {
    "_ZnwmRKSt9nothrow_t", "_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
    "_ZnamSt11align_val_tRKSt9nothrow_t",
};
static _Atomic(void *) libstdcxx_nothrow_news[NOTHROW_NEW_COUNT];

static void *find_libstdcxx_nothrow_new(enum nothrow_new which)
{
    void *real = (void *)malloc_trace_next_operator(nothrow_new_names[which]);
    atomic_store_explicit(&libstdcxx_nothrow_news[which], real, memory_order_release);
    return real;
}

/* As the library starts, before the program runs: dlsym takes the loader's lock, which a
 * thread inside dlopen may hold while it waits for the thread making the first call (a
 * library's constructor joining a thread it started). */
static atomic_bool nothrow_news_looked_up;

__attribute__((constructor)) static void find_libstdcxx_operators(void)
{
    for (int which = 0; which < NOTHROW_NEW_COUNT; which++)
        find_libstdcxx_nothrow_new((enum nothrow_new)which);
    for (int which = 0; which < LIBSTDCXX_HELPER_COUNT; which++)
        libstdcxx_helper((enum libstdcxx_helper)which);
    atomic_store_explicit(&nothrow_news_looked_up, true, memory_order_release);
}

/* NULL when libstdc++ was not loaded as the program started (a C program that loads a C++
 * library later, whose constructor may be that thread): then our loop, which has its
 * semantics but for an exception out of a new-handler. A call before the constructor (another
 * library's) looks the operator up itself. */
static void *libstdcxx_nothrow_new(enum nothrow_new which)
{
    void *real = atomic_load_explicit(&libstdcxx_nothrow_news[which], memory_order_acquire);
    if (real == NULL && !atomic_load_explicit(&nothrow_news_looked_up, memory_order_acquire))
        real = find_libstdcxx_nothrow_new(which);
    return real;
}

typedef struct nothrow_tag nothrow_tag; /* std::nothrow_t, only ever passed by reference */
typedef size_t align_val;               /* std::align_val_t is an enum of size_t */
typedef void *plain_new_fn(size_t size);
typedef void *aligned_new_fn(size_t size, align_val alignment);
typedef void plain_delete_fn(void *ptr);
typedef void aligned_delete_fn(void *ptr, align_val alignment);
typedef void sized_delete_fn(void *ptr, size_t size);
typedef void nothrow_delete_fn(void *ptr, const nothrow_tag *tag);
typedef void sized_aligned_delete_fn(void *ptr, size_t size, align_val alignment);
typedef void aligned_nothrow_delete_fn(void *ptr, align_val alignment, const nothrow_tag *tag);

/* chain: the operators an untraced call of this one would reach, this one first and then
 * where libstdc++'s version leads (malloc_trace_programs_operator): a library's own operator
 * comes after the preload library in the loader's order. programs_call: the call of the
 * program's operator there, made instead of our own work. */
#define INTERPOSE_NEW(name, mangled, entry, parameters, allocation, chain, programs_call)   \
    INTERPOSE void *name parameters __asm__(#mangled);                                      \
    void *name parameters                                                                   \
    {                                                                                       \
        const void *programs = malloc_trace_programs_operator(chain);                       \
        if (programs != NULL) {                                                             \
            WATCHED_NEW_BODY(programs, programs_call, size, entry);                         \
        }                                                                                   \
        void *ptr = allocation;                                                             \
        malloc_trace_on_alloc(ptr, size, entry);                                            \
        return ptr;                                                                         \
    }

/* chain: this operator's (malloc_trace_programs_operator): the program's operator the
 * nothrow one reaches, its own (a library's, which real then is) or the one libstdc++'s
 * calls. */
#define INTERPOSE_NOTHROW_NEW(name, mangled, which, entry, parameters, aligned, alignment,  \
                              chain)                                                        \
    INTERPOSE void *name parameters __asm__(#mangled);                                      \
    void *name parameters                                                                   \
    {                                                                                       \
        void *real = libstdcxx_nothrow_new(which);                                          \
        if (real == NULL) {                                                                 \
            void *ptr = allocate(size, aligned, alignment, true);                           \
            malloc_trace_on_alloc(ptr, size, entry);                                        \
            return ptr;                                                                     \
        }                                                                                   \
        WATCHED_NEW_BODY(malloc_trace_programs_operator(chain),                              \
                         (aligned) ? ((aligned_nothrow_new_fn *)real)(size, alignment, tag)  \
                                   : ((nothrow_new_fn *)real)(size, tag),                    \
                         size, entry);                                                       \
    }

/* tail, tail_call: for a sized or nothrow delete, the chain of the delete libstdc++'s
 * version calls, and the call of the program's operator found there: where this operator's
 * own chain found another (a library's own sized or nothrow delete), that one is called with
 * this one's arguments (own_call). MALLOC_TRACE_CHAIN_NONE for the others, which take the
 * arguments of the operator their chain leads to. */
#define INTERPOSE_DELETE(name, mangled, entry, parameters, unused, chain, own_call, tail,     \
                         tail_call)                                                         \
    INTERPOSE void name parameters __asm__(#mangled);                                       \
    void name parameters                                                                    \
    {                                                                                       \
        (void)(unused);                                                                     \
        const void *programs = malloc_trace_programs_operator(chain);                       \
        if (programs != NULL) {                                                             \
            if ((tail) == MALLOC_TRACE_CHAIN_NONE                                           \
                || programs != malloc_trace_programs_operator(tail)) {                      \
                WATCHED_DELETE_BODY(programs, own_call, ptr, entry);                        \
            } else {                                                                        \
                WATCHED_DELETE_BODY(programs, tail_call, ptr, entry);                       \
            }                                                                               \
            return;                                                                         \
        }                                                                                   \
        malloc_trace_on_free(ptr, entry, next_free);                                        \
        __asm__ volatile("" ::: "memory"); /* no tail call (see c_allocators.h) */          \
    }

#define PLAIN_NEW ((plain_new_fn *)programs)(size)
#define ALIGNED_NEW ((aligned_new_fn *)programs)(size, alignment)
#define PLAIN_DELETE ((plain_delete_fn *)programs)(ptr)
#define ALIGNED_DELETE ((aligned_delete_fn *)programs)(ptr, alignment)
#define SIZED_DELETE ((sized_delete_fn *)programs)(ptr, size)
#define NOTHROW_DELETE ((nothrow_delete_fn *)programs)(ptr, tag)
#define SIZED_ALIGNED_DELETE ((sized_aligned_delete_fn *)programs)(ptr, size, alignment)
#define ALIGNED_NOTHROW_DELETE ((aligned_nothrow_delete_fn *)programs)(ptr, alignment, tag)

INTERPOSE_NEW(new_plain, _Znwm, ENTRY_NEW, (size_t size), allocate(size, false, 0, false),
              MALLOC_TRACE_CHAIN_NEW, PLAIN_NEW)
INTERPOSE_NOTHROW_NEW(new_nothrow, _ZnwmRKSt9nothrow_t, NOTHROW_NEW, ENTRY_NEW_NOTHROW,
                      (size_t size, const nothrow_tag *tag), false, 0,
                      MALLOC_TRACE_CHAIN_NEW_NOTHROW)
INTERPOSE_NEW(new_aligned, _ZnwmSt11align_val_t, ENTRY_NEW_ALIGNED,
              (size_t size, align_val alignment), allocate(size, true, alignment, false),
              MALLOC_TRACE_CHAIN_NEW_ALIGNED, ALIGNED_NEW)
INTERPOSE_NOTHROW_NEW(new_aligned_nothrow, _ZnwmSt11align_val_tRKSt9nothrow_t,
                      NOTHROW_NEW_ALIGNED, ENTRY_NEW_ALIGNED_NOTHROW,
                      (size_t size, align_val alignment, const nothrow_tag *tag), true, alignment,
                      MALLOC_TRACE_CHAIN_NEW_ALIGNED_NOTHROW)
INTERPOSE_NEW(new_array, _Znam, ENTRY_NEW_ARRAY, (size_t size), allocate(size, false, 0, false),
              MALLOC_TRACE_CHAIN_NEW_ARRAY, PLAIN_NEW)
INTERPOSE_NOTHROW_NEW(new_array_nothrow, _ZnamRKSt9nothrow_t, NOTHROW_NEW_ARRAY,
                      ENTRY_NEW_ARRAY_NOTHROW, (size_t size, const nothrow_tag *tag), false, 0,
                      MALLOC_TRACE_CHAIN_NEW_ARRAY_NOTHROW)
INTERPOSE_NEW(new_array_aligned, _ZnamSt11align_val_t, ENTRY_NEW_ARRAY_ALIGNED,
              (size_t size, align_val alignment), allocate(size, true, alignment, false),
              MALLOC_TRACE_CHAIN_NEW_ARRAY_ALIGNED, ALIGNED_NEW)
INTERPOSE_NOTHROW_NEW(new_array_aligned_nothrow, _ZnamSt11align_val_tRKSt9nothrow_t,
                      NOTHROW_NEW_ARRAY_ALIGNED, ENTRY_NEW_ARRAY_ALIGNED_NOTHROW,
                      (size_t size, align_val alignment, const nothrow_tag *tag), true, alignment,
                      MALLOC_TRACE_CHAIN_NEW_ARRAY_ALIGNED_NOTHROW)

INTERPOSE_DELETE(delete_plain, _ZdlPv, ENTRY_DELETE, (void *ptr), 0, MALLOC_TRACE_CHAIN_DELETE,
                 PLAIN_DELETE, MALLOC_TRACE_CHAIN_NONE, PLAIN_DELETE)
INTERPOSE_DELETE(delete_sized, _ZdlPvm, ENTRY_DELETE_SIZED, (void *ptr, size_t size), size,
                 MALLOC_TRACE_CHAIN_DELETE_SIZED, SIZED_DELETE, MALLOC_TRACE_CHAIN_DELETE,
                 PLAIN_DELETE)
INTERPOSE_DELETE(delete_nothrow, _ZdlPvRKSt9nothrow_t, ENTRY_DELETE_NOTHROW,
                 (void *ptr, const nothrow_tag *tag), tag, MALLOC_TRACE_CHAIN_DELETE_NOTHROW,
                 NOTHROW_DELETE, MALLOC_TRACE_CHAIN_DELETE, PLAIN_DELETE)
INTERPOSE_DELETE(delete_aligned, _ZdlPvSt11align_val_t, ENTRY_DELETE_ALIGNED,
                 (void *ptr, align_val alignment), alignment,
                 MALLOC_TRACE_CHAIN_DELETE_ALIGNED, ALIGNED_DELETE, MALLOC_TRACE_CHAIN_NONE,
                 ALIGNED_DELETE)
INTERPOSE_DELETE(delete_sized_aligned, _ZdlPvmSt11align_val_t, ENTRY_DELETE_SIZED_ALIGNED,
                 (void *ptr, size_t size, align_val alignment), size,
                 MALLOC_TRACE_CHAIN_DELETE_SIZED_ALIGNED, SIZED_ALIGNED_DELETE,
                 MALLOC_TRACE_CHAIN_DELETE_ALIGNED, ALIGNED_DELETE)
INTERPOSE_DELETE(delete_aligned_nothrow, _ZdlPvSt11align_val_tRKSt9nothrow_t,
                 ENTRY_DELETE_ALIGNED_NOTHROW,
                 (void *ptr, align_val alignment, const nothrow_tag *tag), tag,
                 MALLOC_TRACE_CHAIN_DELETE_ALIGNED_NOTHROW, ALIGNED_NOTHROW_DELETE,
                 MALLOC_TRACE_CHAIN_DELETE_ALIGNED, ALIGNED_DELETE)
INTERPOSE_DELETE(delete_array, _ZdaPv, ENTRY_DELETE_ARRAY, (void *ptr), 0,
                 MALLOC_TRACE_CHAIN_DELETE_ARRAY, PLAIN_DELETE, MALLOC_TRACE_CHAIN_NONE,
                 PLAIN_DELETE)
INTERPOSE_DELETE(delete_array_sized, _ZdaPvm, ENTRY_DELETE_ARRAY_SIZED,
                 (void *ptr, size_t size), size, MALLOC_TRACE_CHAIN_DELETE_ARRAY_SIZED,
                 SIZED_DELETE, MALLOC_TRACE_CHAIN_DELETE_ARRAY, PLAIN_DELETE)
INTERPOSE_DELETE(delete_array_nothrow, _ZdaPvRKSt9nothrow_t, ENTRY_DELETE_ARRAY_NOTHROW,
                 (void *ptr, const nothrow_tag *tag), tag, MALLOC_TRACE_CHAIN_DELETE_ARRAY_NOTHROW,
                 NOTHROW_DELETE, MALLOC_TRACE_CHAIN_DELETE_ARRAY, PLAIN_DELETE)
INTERPOSE_DELETE(delete_array_aligned, _ZdaPvSt11align_val_t, ENTRY_DELETE_ARRAY_ALIGNED,
                 (void *ptr, align_val alignment), alignment,
                 MALLOC_TRACE_CHAIN_DELETE_ARRAY_ALIGNED, ALIGNED_DELETE,
                 MALLOC_TRACE_CHAIN_NONE, ALIGNED_DELETE)
INTERPOSE_DELETE(delete_array_sized_aligned, _ZdaPvmSt11align_val_t,
                 ENTRY_DELETE_ARRAY_SIZED_ALIGNED,
                 (void *ptr, size_t size, align_val alignment), size,
                 MALLOC_TRACE_CHAIN_DELETE_ARRAY_SIZED_ALIGNED, SIZED_ALIGNED_DELETE,
                 MALLOC_TRACE_CHAIN_DELETE_ARRAY_ALIGNED, ALIGNED_DELETE)
INTERPOSE_DELETE(delete_array_aligned_nothrow, _ZdaPvSt11align_val_tRKSt9nothrow_t,
                 ENTRY_DELETE_ARRAY_ALIGNED_NOTHROW,
                 (void *ptr, align_val alignment, const nothrow_tag *tag), tag,
                 MALLOC_TRACE_CHAIN_DELETE_ARRAY_ALIGNED_NOTHROW, ALIGNED_NOTHROW_DELETE,
                 MALLOC_TRACE_CHAIN_DELETE_ARRAY_ALIGNED, ALIGNED_DELETE)
