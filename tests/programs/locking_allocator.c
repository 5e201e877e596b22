/* locking_allocator.c: a shared library that is the program's malloc (as jemalloc is), every
 * call under one lock that a second call on the same thread waits for for ever: a bump
 * allocator that never gives memory back. locking_allocator_raise_in_next_malloc makes the
 * next malloc raise SIGUSR1 while it holds the lock, as a signal that interrupts an
 * allocator does. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define ARENA_BYTES ((size_t)256 << 20)
#define HEADER 16u

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *arena;
static size_t used;
static atomic_bool raise_next;

void locking_allocator_raise_in_next_malloc(void)
{
    atomic_store(&raise_next, true);
}

/* Called with the lock. */
static void *take(size_t alignment, size_t size)
{
    if (arena == NULL) {
        void *mapped = mmap(NULL, ARENA_BYTES, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mapped == MAP_FAILED)
            return NULL;
        arena = mapped;
    }
    if (alignment < HEADER)
        alignment = HEADER;
    uintptr_t start = ((uintptr_t)arena + used + HEADER + alignment - 1) & ~(alignment - 1);
    size_t end = start + size - (uintptr_t)arena;
    if (size > ARENA_BYTES || end > ARENA_BYTES)
        return NULL;
    used = end;
    memcpy((unsigned char *)start - HEADER, &size, sizeof size);
    return (void *)start;
}

static size_t size_of(const void *ptr)
{
    size_t size;
    memcpy(&size, (const unsigned char *)ptr - HEADER, sizeof size);
    return size;
}

static void *take_locked(size_t alignment, size_t size)
{
    pthread_mutex_lock(&lock);
    void *ptr = take(alignment, size);
    pthread_mutex_unlock(&lock);
    if (ptr == NULL)
        errno = ENOMEM;
    return ptr;
}

void *malloc(size_t size)
{
    pthread_mutex_lock(&lock);
    if (atomic_exchange(&raise_next, false))
        raise(SIGUSR1);
    void *ptr = take(HEADER, size);
    pthread_mutex_unlock(&lock);
    return ptr;
}

void free(void *ptr)
{
    pthread_mutex_lock(&lock); /* nothing to give back: the lock is the point */
    (void)ptr;
    pthread_mutex_unlock(&lock);
}

void *calloc(size_t count, size_t size)
{
    size_t total;
    return __builtin_mul_overflow(count, size, &total) ? NULL : take_locked(HEADER, total);
}

void *realloc(void *old, size_t size)
{
    void *ptr = take_locked(HEADER, size);
    if (ptr != NULL && old != NULL) {
        size_t old_size = size_of(old);
        memcpy(ptr, old, old_size < size ? old_size : size);
    }
    return ptr;
}

void *memalign(size_t alignment, size_t size)
{
    return take_locked(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size)
{
    return take_locked(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size)
{
    void *ptr = take_locked(alignment, size);
    if (ptr == NULL)
        return ENOMEM;
    *out = ptr;
    return 0;
}

void *valloc(size_t size)
{
    return take_locked(4096, size);
}

void *pvalloc(size_t size)
{
    return take_locked(4096, (size + 4095) & ~(size_t)4095);
}

size_t malloc_usable_size(void *ptr)
{
    return ptr != NULL ? size_of(ptr) : 0;
}
