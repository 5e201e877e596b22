/* live_blocks.c: a preload library that counts the heap blocks live at once and prints the
 * peak on stderr at exit, as `live_blocks: peak N`. make bench runs the untraced xmllint
 * under it once, to turn the tracer's extra peak RSS into bytes per live block.
 *
 * Only malloc, calloc, realloc and free are counted: a block from posix_memalign or
 * aligned_alloc that is later freed lowers the count by one it never added, which the
 * programs measured here (libxml2 allocates through malloc) make negligible. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);

static atomic_long live;
static atomic_long peak;

/* dlsym calls calloc before the real one is known: that call is served from this pool, and
 * free ignores pointers into it (as heaptrack does). */
static _Alignas(16) char pool[1024];
static size_t pool_used;
static int resolving;

static void resolve(void)
{
    resolving = 1;
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    resolving = 0;
}

static void added(void)
{
    long now = atomic_fetch_add(&live, 1) + 1;
    long highest = atomic_load(&peak);
    while (now > highest && !atomic_compare_exchange_weak(&peak, &highest, now)) {
    }
}

static int in_pool(const void *p)
{
    return (const char *)p >= pool && (const char *)p < pool + sizeof pool;
}

void *malloc(size_t size)
{
    if (!real_malloc)
        resolve();
    void *p = real_malloc(size);
    if (p)
        added();
    return p;
}

void *calloc(size_t count, size_t size)
{
    if (resolving) {
        size_t bytes = (count * size + 15) & ~(size_t)15;
        if (bytes > sizeof pool - pool_used)
            return NULL;
        void *p = pool + pool_used;
        pool_used += bytes;
        return p; /* static storage: already zero */
    }
    if (!real_calloc)
        resolve();
    void *p = real_calloc(count, size);
    if (p)
        added();
    return p;
}

void *realloc(void *old, size_t size)
{
    if (!real_realloc)
        resolve();
    void *p = real_realloc(old, size);
    if (!old && p)
        added();
    else if (old && size == 0)
        atomic_fetch_sub(&live, 1); /* glibc frees the block and returns NULL */
    return p;
}

void free(void *p)
{
    if (!p || in_pool(p))
        return;
    if (!real_free)
        resolve();
    atomic_fetch_sub(&live, 1);
    real_free(p);
}

/* Through write(2): no stdio buffer to set up or flush this late in exit. */
__attribute__((destructor)) static void report(void)
{
    char line[64];
    int length = snprintf(line, sizeof line, "live_blocks: peak %ld\n", atomic_load(&peak));
    if (write(STDERR_FILENO, line, (size_t)length) < 0)
        return;
}
