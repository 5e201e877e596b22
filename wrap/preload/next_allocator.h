/* next_allocator.h: the allocator behind the preload form's entry points: the one a call of
 * the program reaches untraced, past the preload library. That is glibc's, through its
 * __libc_malloc and friends (tcmalloc defines those too, as its own), unless the program is
 * linked with an allocator library that defines malloc but not __libc_malloc (jemalloc):
 * then that library's, found with dlsym(RTLD_NEXT). Under glibc's, such a program's blocks
 * changed allocator under the tracer: its allocator's own API (sallocx, dallocx) read
 * them as its own and crashed, and its statistics (mallctl) missed them. */
#ifndef MALLOC_TRACE_NEXT_ALLOCATOR_H
#define MALLOC_TRACE_NEXT_ALLOCATOR_H

#include <stdatomic.h>
#include <stddef.h>

struct next_allocator {
    void *(*malloc)(size_t size);
    void *(*calloc)(size_t count, size_t size);
    void *(*realloc)(void *old, size_t size);
    void (*free)(void *ptr);
    void *(*memalign)(size_t alignment, size_t size);
    void *(*valloc)(size_t size);
    void *(*pvalloc)(size_t size);
    int (*posix_memalign)(void **out, size_t alignment, size_t size);
    void *(*aligned_alloc)(size_t alignment, size_t size);
    size_t (*usable_size)(void *ptr);
};

/* NULL until the first call of any entry point chooses. */
extern _Atomic(const struct next_allocator *) next_allocator_chosen;

/* Chooses, at the first call: the look-up may allocate (glibc before 2.34 made its dlerror
 * state with calloc), and the calls it makes on the choosing thread are served from a small
 * arena of the preload library's own, which a free leaves alone. */
const struct next_allocator *next_allocator_choose(void);

static inline const struct next_allocator *next_allocator(void)
{
    const struct next_allocator *chosen =
        atomic_load_explicit(&next_allocator_chosen, memory_order_acquire);
    return __builtin_expect(chosen != NULL, 1) ? chosen : next_allocator_choose();
}

/* The entry points' real functions (REAL(name) in c_allocators.h). The ones that take a block
 * tell the arena's from the allocator's. */
static inline void *next_malloc(size_t size)
{
    return next_allocator()->malloc(size);
}

static inline void *next_calloc(size_t count, size_t size)
{
    return next_allocator()->calloc(count, size);
}

static inline void *next_memalign(size_t alignment, size_t size)
{
    return next_allocator()->memalign(alignment, size);
}

static inline void *next_valloc(size_t size)
{
    return next_allocator()->valloc(size);
}

static inline void *next_pvalloc(size_t size)
{
    return next_allocator()->pvalloc(size);
}

static inline int next_posix_memalign(void **out, size_t alignment, size_t size)
{
    return next_allocator()->posix_memalign(out, alignment, size);
}

static inline void *next_aligned_alloc(size_t alignment, size_t size)
{
    return next_allocator()->aligned_alloc(alignment, size);
}

void *next_realloc(void *old, size_t size);
/* A function, not inline: the hooks take it as the release of a block (see tracer.h). */
void next_free(void *ptr);
size_t next_usable_size(void *ptr);

#endif
