/* next_allocator.c: see next_allocator.h. */
#define _GNU_SOURCE
#include "next_allocator.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../core/tracer.h"

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t count, size_t size);
void *__libc_realloc(void *old, size_t size);
void __libc_free(void *ptr);
void *__libc_memalign(size_t alignment, size_t size);
void *__libc_valloc(size_t size);
void *__libc_pvalloc(size_t size);

_Atomic(const struct next_allocator *) next_allocator_chosen;

/* ---- glibc's ------------------------------------------------------------------------------
 * glibc exports no __libc_ name for these two: they are made of its memalign. */

static bool is_power_of_two(size_t value)
{
    return value != 0 && (value & (value - 1)) == 0;
}

static int glibc_posix_memalign(void **out, size_t alignment, size_t size)
{
    /* glibc 2.36's checks, in its order. */
    if (alignment % sizeof(void *) != 0 || !is_power_of_two(alignment / sizeof(void *)))
        return EINVAL;
    void *ptr = __libc_memalign(alignment, size);
    if (ptr == NULL)
        return ENOMEM;
    *out = ptr;
    return 0;
}

/* glibc before 2.38 makes aligned_alloc an alias of memalign (any alignment is rounded up to
 * a power of two); glibc 2.38 rejects the others with EINVAL. This is Debian 12's. */
static void *glibc_aligned_alloc(size_t alignment, size_t size)
{
    return __libc_memalign(alignment, size);
}

/* The malloc_usable_size of the library that defines the __libc_malloc called: glibc's, or
 * tcmalloc's (by name, it is the preload form's own, and a library before glibc that
 * defined one would read glibc's blocks as its own). Looked up as the library starts, or at
 * the first call before that (another library's constructor). */
typedef size_t usable_size_fn(void *ptr);
static _Atomic(usable_size_fn *) glibc_usable_size_found;

__attribute__((constructor)) static usable_size_fn *find_glibc_usable_size(void)
{
    usable_size_fn *found = NULL;
    Dl_info allocator;
    malloc_trace_guard += MALLOC_TRACE_GUARD_INTERNAL; /* dladdr may allocate */
    int known = dladdr((void *)__libc_malloc, &allocator);
    malloc_trace_guard -= MALLOC_TRACE_GUARD_INTERNAL;
    if (known != 0) /* the library's own, or its libc's */
        found = (usable_size_fn *)malloc_trace_loaded_symbol(allocator.dli_fname,
                                                             "malloc_usable_size");
    atomic_store_explicit(&glibc_usable_size_found, found, memory_order_release);
    return found;
}

static size_t glibc_usable_size(void *ptr)
{
    usable_size_fn *found = atomic_load_explicit(&glibc_usable_size_found, memory_order_acquire);
    if (found == NULL)
        found = find_glibc_usable_size();
    return found != NULL ? found(ptr) : 0;
}

static const struct next_allocator glibc_allocator = {
    __libc_malloc,  __libc_calloc,        __libc_realloc,      __libc_free,
    __libc_memalign, __libc_valloc,       __libc_pvalloc,      glibc_posix_memalign,
    glibc_aligned_alloc, glibc_usable_size,
};

/* ---- the arena, for the calls made while the allocator is chosen ----------------------
 * Each block has its size in the 16 bytes before it. Nothing is ever given back: only the
 * loader's look-up allocates here, a few small blocks once. */
#define ARENA_BYTES 16384u
#define ARENA_HEADER 16u
static alignas(16) unsigned char arena[ARENA_BYTES];
static atomic_size_t arena_used;

static bool in_arena(const void *ptr)
{
    return (uintptr_t)ptr - (uintptr_t)arena < ARENA_BYTES;
}

static size_t arena_block_size(const void *ptr)
{
    size_t size;
    memcpy(&size, (const unsigned char *)ptr - ARENA_HEADER, sizeof size);
    return size;
}

static void *arena_malloc(size_t size)
{
    if (size > ARENA_BYTES)
        return NULL;
    size_t rounded = (size + ARENA_HEADER - 1) / ARENA_HEADER * ARENA_HEADER + ARENA_HEADER;
    size_t start = atomic_fetch_add(&arena_used, rounded);
    if (start + rounded > ARENA_BYTES)
        return NULL; /* it stays full: every later call fails as well */
    memcpy(arena + start, &size, sizeof size);
    return arena + start + ARENA_HEADER; /* zeroed: static, and never used before */
}

static void *arena_calloc(size_t count, size_t size)
{
    size_t total;
    return __builtin_mul_overflow(count, size, &total) ? NULL : arena_malloc(total);
}

/* A block of the arena into a new one of allocator's. */
static void *move_arena_block(const struct next_allocator *allocator, void *old, size_t size)
{
    void *ptr = allocator->malloc(size);
    if (ptr != NULL) {
        size_t old_size = arena_block_size(old);
        memcpy(ptr, old, old_size < size ? old_size : size);
    }
    return ptr;
}

static const struct next_allocator arena_allocator;

/* Only the arena's blocks: no other can be in use while the allocator is chosen. */
static void *arena_realloc(void *old, size_t size)
{
    if (old == NULL)
        return arena_malloc(size);
    return in_arena(old) ? move_arena_block(&arena_allocator, old, size) : NULL;
}

static void arena_free(void *ptr)
{
    (void)ptr;
}

/* Its blocks are aligned to 16 bytes, and no more. */
static void *arena_memalign(size_t alignment, size_t size)
{
    return alignment <= ARENA_HEADER ? arena_malloc(size) : NULL;
}

static void *arena_page(size_t size)
{
    (void)size;
    return NULL;
}

static int arena_posix_memalign(void **out, size_t alignment, size_t size)
{
    void *ptr = arena_memalign(alignment, size);
    if (ptr == NULL)
        return ENOMEM;
    *out = ptr;
    return 0;
}

static size_t arena_usable_size(void *ptr)
{
    return arena_block_size(ptr);
}

static const struct next_allocator arena_allocator = {
    arena_malloc,   arena_calloc, arena_realloc,        arena_free,     arena_memalign,
    arena_page,     arena_page,   arena_posix_memalign, arena_memalign, arena_usable_size,
};

/* ---- the choice --------------------------------------------------------------------------- */

static struct next_allocator library_allocator;
static atomic_bool choice_begun;

/* The definition of name past the preload library, or glibc's. */
static void *next_definition(const char *name, void *glibcs)
{
    void *found = dlsym(RTLD_NEXT, name);
    return found != NULL ? found : glibcs;
}

#define FIND_NEXT(member, name)                                                              \
    (library_allocator.member = (__typeof__(library_allocator.member))next_definition(      \
         name, (void *)glibc_allocator.member))

const struct next_allocator *next_allocator_choose(void)
{
    /* Taken by the choosing thread's own calls inside the look-up (or a signal handler's
     * there), and by any other thread's meanwhile: the arena serves them. */
    if (atomic_exchange(&choice_begun, true))
        return &arena_allocator;
    const struct next_allocator *chosen = &glibc_allocator;
    /* glibc's malloc is an alias of its __libc_malloc, and so is tcmalloc's. Unknown only
     * in a program without a loader, which has no preload library either. */
    void *next = dlsym(RTLD_NEXT, "malloc");
    if (next != NULL && next != (void *)__libc_malloc) {
        FIND_NEXT(malloc, "malloc");
        FIND_NEXT(calloc, "calloc");
        FIND_NEXT(realloc, "realloc");
        FIND_NEXT(free, "free");
        FIND_NEXT(memalign, "memalign");
        FIND_NEXT(valloc, "valloc");
        FIND_NEXT(pvalloc, "pvalloc"); /* jemalloc has none: glibc's, as the program calls */
        FIND_NEXT(posix_memalign, "posix_memalign");
        FIND_NEXT(aligned_alloc, "aligned_alloc");
        FIND_NEXT(usable_size, "malloc_usable_size");
        chosen = &library_allocator;
    }
    atomic_store_explicit(&next_allocator_chosen, chosen, memory_order_release);
    return chosen;
}

void *next_realloc(void *old, size_t size)
{
    const struct next_allocator *allocator = next_allocator();
    if (!in_arena(old))
        return allocator->realloc(old, size);
    if (size == 0)
        return NULL; /* realloc(p, 0) frees p: an arena block stays where it is */
    return move_arena_block(allocator, old, size);
}

void next_free(void *ptr)
{
    if (!in_arena(ptr))
        next_allocator()->free(ptr);
}

size_t next_usable_size(void *ptr)
{
    return in_arena(ptr) ? arena_block_size(ptr) : next_allocator()->usable_size(ptr);
}
