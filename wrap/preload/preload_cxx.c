/* preload_cxx.c: the C++ operators for LD_PRELOAD, written in C so that C programs do not
 * load libstdc++. They allocate through glibc directly (libstdc++'s operator new would call
 * malloc, which is ours too, and record the block twice) with libstdc++'s semantics: the
 * new-handler loop, std::bad_alloc, size 0 as 1. libstdc++ is reached through weak
 * references, present whenever a program can call these operators. */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "../core/tracer.h"

#define INTERPOSE __attribute__((visibility("default")))

void *__libc_malloc(size_t size);
void *__libc_memalign(size_t alignment, size_t size);
void __libc_free(void *ptr);

typedef void (*new_handler)(void);
extern new_handler get_new_handler(void) __asm__("_ZSt15get_new_handlerv")
    __attribute__((weak));
extern void throw_bad_alloc(void) __asm__("_ZSt17__throw_bad_allocv")
    __attribute__((weak, noreturn));

static void *fail(bool nothrow)
{
    if (nothrow)
        return NULL;
    if (throw_bad_alloc)
        throw_bad_alloc();
    abort(); /* an operator new called without libstdc++ in reach: nothing can catch it */
}

/* alignment 0: the default alignment of malloc. */
static void *allocate(size_t size, size_t alignment, bool nothrow)
{
    if (alignment != 0 && (alignment & (alignment - 1)) != 0)
        return fail(nothrow);
    if (size == 0)
        size = 1;
    for (;;) {
        void *ptr = alignment ? __libc_memalign(alignment, size) : __libc_malloc(size);
        if (ptr != NULL)
            return ptr;
        new_handler handler = get_new_handler ? get_new_handler() : NULL;
        if (handler == NULL)
            return fail(nothrow);
        handler();
    }
}

typedef struct nothrow_tag nothrow_tag; /* std::nothrow_t, only ever passed by reference */
typedef size_t align_val;               /* std::align_val_t is an enum of size_t */

#define INTERPOSE_NEW(name, mangled, entry, parameters, alignment, nothrow)                \
    INTERPOSE void *name parameters __asm__(#mangled);                                      \
    void *name parameters                                                                   \
    {                                                                                       \
        void *ptr = allocate(size, alignment, nothrow);                                     \
        malloc_trace_on_alloc(ptr, size, entry);                                            \
        return ptr;                                                                         \
    }

#define INTERPOSE_DELETE(name, mangled, entry, parameters, unused)                          \
    INTERPOSE void name parameters __asm__(#mangled);                                       \
    void name parameters                                                                    \
    {                                                                                       \
        (void)(unused);                                                                     \
        malloc_trace_on_free(ptr, entry);                                                   \
        __libc_free(ptr);                                                                   \
    }

INTERPOSE_NEW(new_plain, _Znwm, ENTRY_NEW, (size_t size), 0, false)
INTERPOSE_NEW(new_nothrow, _ZnwmRKSt9nothrow_t, ENTRY_NEW_NOTHROW,
              (size_t size, const nothrow_tag *tag), ((void)tag, (size_t)0), true)
INTERPOSE_NEW(new_aligned, _ZnwmSt11align_val_t, ENTRY_NEW_ALIGNED,
              (size_t size, align_val alignment), alignment, false)
INTERPOSE_NEW(new_aligned_nothrow, _ZnwmSt11align_val_tRKSt9nothrow_t,
              ENTRY_NEW_ALIGNED_NOTHROW, (size_t size, align_val alignment, const nothrow_tag *tag),
              ((void)tag, alignment), true)
INTERPOSE_NEW(new_array, _Znam, ENTRY_NEW_ARRAY, (size_t size), 0, false)
INTERPOSE_NEW(new_array_nothrow, _ZnamRKSt9nothrow_t, ENTRY_NEW_ARRAY_NOTHROW,
              (size_t size, const nothrow_tag *tag), ((void)tag, (size_t)0), true)
INTERPOSE_NEW(new_array_aligned, _ZnamSt11align_val_t, ENTRY_NEW_ARRAY_ALIGNED,
              (size_t size, align_val alignment), alignment, false)
INTERPOSE_NEW(new_array_aligned_nothrow, _ZnamSt11align_val_tRKSt9nothrow_t,
              ENTRY_NEW_ARRAY_ALIGNED_NOTHROW,
              (size_t size, align_val alignment, const nothrow_tag *tag), ((void)tag, alignment), true)

INTERPOSE_DELETE(delete_plain, _ZdlPv, ENTRY_DELETE, (void *ptr), 0)
INTERPOSE_DELETE(delete_sized, _ZdlPvm, ENTRY_DELETE_SIZED, (void *ptr, size_t size), size)
INTERPOSE_DELETE(delete_nothrow, _ZdlPvRKSt9nothrow_t, ENTRY_DELETE_NOTHROW,
                 (void *ptr, const nothrow_tag *tag), tag)
INTERPOSE_DELETE(delete_aligned, _ZdlPvSt11align_val_t, ENTRY_DELETE_ALIGNED,
                 (void *ptr, align_val alignment), alignment)
INTERPOSE_DELETE(delete_sized_aligned, _ZdlPvmSt11align_val_t, ENTRY_DELETE_SIZED_ALIGNED,
                 (void *ptr, size_t size, align_val alignment), ((void)size, alignment))
INTERPOSE_DELETE(delete_aligned_nothrow, _ZdlPvSt11align_val_tRKSt9nothrow_t,
                 ENTRY_DELETE_ALIGNED_NOTHROW,
                 (void *ptr, align_val alignment, const nothrow_tag *tag), ((void)alignment, tag))
INTERPOSE_DELETE(delete_array, _ZdaPv, ENTRY_DELETE_ARRAY, (void *ptr), 0)
INTERPOSE_DELETE(delete_array_sized, _ZdaPvm, ENTRY_DELETE_ARRAY_SIZED,
                 (void *ptr, size_t size), size)
INTERPOSE_DELETE(delete_array_nothrow, _ZdaPvRKSt9nothrow_t, ENTRY_DELETE_ARRAY_NOTHROW,
                 (void *ptr, const nothrow_tag *tag), tag)
INTERPOSE_DELETE(delete_array_aligned, _ZdaPvSt11align_val_t, ENTRY_DELETE_ARRAY_ALIGNED,
                 (void *ptr, align_val alignment), alignment)
INTERPOSE_DELETE(delete_array_sized_aligned, _ZdaPvmSt11align_val_t,
                 ENTRY_DELETE_ARRAY_SIZED_ALIGNED,
                 (void *ptr, size_t size, align_val alignment), ((void)size, alignment))
INTERPOSE_DELETE(delete_array_aligned_nothrow, _ZdaPvSt11align_val_tRKSt9nothrow_t,
                 ENTRY_DELETE_ARRAY_ALIGNED_NOTHROW,
                 (void *ptr, align_val alignment, const nothrow_tag *tag), ((void)alignment, tag))
