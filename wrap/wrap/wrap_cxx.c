/* wrap_cxx.c: the C++ operators for `ld --wrap`, in an archive member of their own: only a
 * C++ link references them, and a C link must not need libstdc++'s __real_ symbols. */
#include <stddef.h>

#include "../core/tracer.h"
#include "../shared/watched_operators.h"

/* In a section of their own, which the tracer finds by the linker's __start_ and __stop_
 * symbols (see drop_operator_frames). */
#define WRAP __attribute__((visibility("default"), section("malloc_trace_operators")))

/* The operator the call reaches in the end, for the hooks' test of whether it is the
 * program's: libstdc++'s (in a dynamic link, where its calls are not wrapped) leads to the
 * program's own where the program defines the operator it calls. */
static inline __attribute__((always_inline)) const void *real_operator(
    enum malloc_trace_chain chain, const void *real)
{
    const void *programs = malloc_trace_programs_operator(chain);
    return programs != NULL ? programs : real;
}

/* operator new and new[]: the block is the operator's, or, for the program's own operator,
 * malloc's. In a static link, libstdc++'s own call to malloc inside is recorded too and then
 * replaced by the operator's more precise record. */
#define WRAP_NEW(mangled, entry, chain, parameters, arguments)                              \
    void *__real_##mangled parameters;                                                      \
    WRAP void *__wrap_##mangled parameters                                                  \
    {                                                                                       \
        WATCHED_NEW_BODY(real_operator(chain, (const void *)__real_##mangled),              \
                         __real_##mangled arguments, size, entry);                          \
    }

#define WRAP_DELETE(mangled, entry, chain, parameters, arguments)                           \
    void __real_##mangled parameters;                                                       \
    WRAP void __wrap_##mangled parameters                                                   \
    {                                                                                       \
        WATCHED_DELETE_BODY(real_operator(chain, (const void *)__real_##mangled),           \
                            __real_##mangled arguments, ptr, entry);                        \
    }

typedef struct nothrow_tag nothrow_tag; /* std::nothrow_t, only ever passed by reference */
typedef size_t align_val;               /* std::align_val_t is an enum of size_t */

WRAP_NEW(_Znwm, ENTRY_NEW, MALLOC_TRACE_CHAIN_NONE, (size_t size), (size))
WRAP_NEW(_ZnwmRKSt9nothrow_t, ENTRY_NEW_NOTHROW, MALLOC_TRACE_CHAIN_NEW_NOTHROW,
         (size_t size, const nothrow_tag *tag), (size, tag))
WRAP_NEW(_ZnwmSt11align_val_t, ENTRY_NEW_ALIGNED, MALLOC_TRACE_CHAIN_NONE,
         (size_t size, align_val alignment), (size, alignment))
WRAP_NEW(_ZnwmSt11align_val_tRKSt9nothrow_t, ENTRY_NEW_ALIGNED_NOTHROW,
         MALLOC_TRACE_CHAIN_NEW_ALIGNED_NOTHROW,
         (size_t size, align_val alignment, const nothrow_tag *tag), (size, alignment, tag))
WRAP_NEW(_Znam, ENTRY_NEW_ARRAY, MALLOC_TRACE_CHAIN_NEW_ARRAY, (size_t size), (size))
WRAP_NEW(_ZnamRKSt9nothrow_t, ENTRY_NEW_ARRAY_NOTHROW, MALLOC_TRACE_CHAIN_NEW_ARRAY_NOTHROW,
         (size_t size, const nothrow_tag *tag), (size, tag))
WRAP_NEW(_ZnamSt11align_val_t, ENTRY_NEW_ARRAY_ALIGNED, MALLOC_TRACE_CHAIN_NEW_ARRAY_ALIGNED,
         (size_t size, align_val alignment), (size, alignment))
WRAP_NEW(_ZnamSt11align_val_tRKSt9nothrow_t, ENTRY_NEW_ARRAY_ALIGNED_NOTHROW,
         MALLOC_TRACE_CHAIN_NEW_ARRAY_ALIGNED_NOTHROW,
         (size_t size, align_val alignment, const nothrow_tag *tag), (size, alignment, tag))

WRAP_DELETE(_ZdlPv, ENTRY_DELETE, MALLOC_TRACE_CHAIN_NONE, (void *ptr), (ptr))
WRAP_DELETE(_ZdlPvm, ENTRY_DELETE_SIZED, MALLOC_TRACE_CHAIN_DELETE_SIZED,
            (void *ptr, size_t size), (ptr, size))
WRAP_DELETE(_ZdlPvRKSt9nothrow_t, ENTRY_DELETE_NOTHROW, MALLOC_TRACE_CHAIN_DELETE_NOTHROW,
            (void *ptr, const nothrow_tag *tag), (ptr, tag))
WRAP_DELETE(_ZdlPvSt11align_val_t, ENTRY_DELETE_ALIGNED, MALLOC_TRACE_CHAIN_NONE,
            (void *ptr, align_val alignment), (ptr, alignment))
WRAP_DELETE(_ZdlPvmSt11align_val_t, ENTRY_DELETE_SIZED_ALIGNED,
            MALLOC_TRACE_CHAIN_DELETE_SIZED_ALIGNED, (void *ptr, size_t size, align_val alignment),
            (ptr, size, alignment))
WRAP_DELETE(_ZdlPvSt11align_val_tRKSt9nothrow_t, ENTRY_DELETE_ALIGNED_NOTHROW,
            MALLOC_TRACE_CHAIN_DELETE_ALIGNED_NOTHROW,
            (void *ptr, align_val alignment, const nothrow_tag *tag), (ptr, alignment, tag))
WRAP_DELETE(_ZdaPv, ENTRY_DELETE_ARRAY, MALLOC_TRACE_CHAIN_DELETE_ARRAY, (void *ptr), (ptr))
WRAP_DELETE(_ZdaPvm, ENTRY_DELETE_ARRAY_SIZED, MALLOC_TRACE_CHAIN_DELETE_ARRAY_SIZED,
            (void *ptr, size_t size), (ptr, size))
WRAP_DELETE(_ZdaPvRKSt9nothrow_t, ENTRY_DELETE_ARRAY_NOTHROW,
            MALLOC_TRACE_CHAIN_DELETE_ARRAY_NOTHROW, (void *ptr, const nothrow_tag *tag),
            (ptr, tag))
WRAP_DELETE(_ZdaPvSt11align_val_t, ENTRY_DELETE_ARRAY_ALIGNED,
            MALLOC_TRACE_CHAIN_DELETE_ARRAY_ALIGNED, (void *ptr, align_val alignment),
            (ptr, alignment))
WRAP_DELETE(_ZdaPvmSt11align_val_t, ENTRY_DELETE_ARRAY_SIZED_ALIGNED,
            MALLOC_TRACE_CHAIN_DELETE_ARRAY_SIZED_ALIGNED,
            (void *ptr, size_t size, align_val alignment), (ptr, size, alignment))
WRAP_DELETE(_ZdaPvSt11align_val_tRKSt9nothrow_t, ENTRY_DELETE_ARRAY_ALIGNED_NOTHROW,
            MALLOC_TRACE_CHAIN_DELETE_ARRAY_ALIGNED_NOTHROW,
            (void *ptr, align_val alignment, const nothrow_tag *tag), (ptr, alignment, tag))
