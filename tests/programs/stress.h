/* stress.h: what the stress programs share: blocks that carry their owner and a pattern
 * (so a block the tracer damaged, or handed out twice, is seen when it is freed), a mutex
 * queue that carries blocks from the thread that allocated them to another that frees them,
 * and churn threads that allocate until told to stop.
 *
 * Only make_block and release_block allocate on the churn path (release_block through
 * realloc), so a test can tell every row from these paths by those two frames. Everything
 * they allocate is freed before the program ends, unless the program ends from another
 * thread while they run. */
#ifndef TEST_PROGRAMS_STRESS_H
#define TEST_PROGRAMS_STRESS_H

#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define STRESS_MAGIC 0x5eed5eedu
#define STRESS_QUEUE 1024

struct stress_block {
    uint32_t magic;
    uint32_t owner; /* the index of the allocating thread */
    size_t size;    /* bytes, this header included */
    unsigned char fill;
};

struct stress_stats {
    atomic_ulong released;
    atomic_ulong cross_thread; /* freed by another thread than the one that allocated */
    atomic_ulong corrupt;
};

static struct stress_stats stress_stats;
static atomic_bool stress_stop;

static pthread_mutex_t stress_queue_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stress_block *stress_queue[STRESS_QUEUE];
static size_t stress_queue_head, stress_queue_length;

static inline uint64_t stress_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* Sizes mostly small, now and then above glibc's mmap threshold (128 KiB), and through
 * each allocation function the tracer intercepts in both forms. */
__attribute__((noinline)) static struct stress_block *make_block(uint32_t owner,
                                                                 uint64_t *random)
{
    uint64_t r = stress_random(random);
    size_t size = sizeof(struct stress_block) + (r >> 8) % 512;
    if (r % 97 == 0)
        size += 160 * 1024;
    struct stress_block *block = NULL;
    switch (r % 5) {
    case 0: block = malloc(size); break;
    case 1: block = calloc(1, size); break;
    case 2: block = aligned_alloc(64, (size + 63) & ~(size_t)63); break;
    case 3:
        if (posix_memalign((void **)&block, 32, size) != 0)
            block = NULL;
        break;
    default: block = realloc(NULL, size); break;
    }
    if (block == NULL)
        abort();
    block->magic = STRESS_MAGIC;
    block->owner = owner;
    block->size = size;
    block->fill = (unsigned char)(r >> 3);
    memset((char *)block + sizeof *block, block->fill, size - sizeof *block);
    return block;
}

static inline bool stress_intact(const struct stress_block *block)
{
    if (block->magic != STRESS_MAGIC)
        return false;
    const unsigned char *bytes = (const unsigned char *)block;
    for (size_t i = sizeof *block; i < block->size; i++)
        if (bytes[i] != block->fill)
            return false;
    return true;
}

/* Checks a block and frees it, one time in four after growing it with realloc (the tracer
 * then sees a free, an allocation and a free). */
__attribute__((noinline)) static void release_block(struct stress_block *block, uint32_t by)
{
    if (!stress_intact(block))
        atomic_fetch_add(&stress_stats.corrupt, 1);
    if (block->owner != by)
        atomic_fetch_add(&stress_stats.cross_thread, 1);
    atomic_fetch_add(&stress_stats.released, 1);
    if ((block->fill & 3) == 0) {
        size_t size = block->size;
        struct stress_block *grown = realloc(block, size + 64);
        if (grown == NULL)
            abort();
        if (grown->size != size)
            atomic_fetch_add(&stress_stats.corrupt, 1); /* realloc kept the contents */
        block = grown;
    }
    free(block);
}

/* false when the queue is full. */
static inline bool stress_push(struct stress_block *block)
{
    pthread_mutex_lock(&stress_queue_lock);
    bool pushed = stress_queue_length < STRESS_QUEUE;
    if (pushed)
        stress_queue[(stress_queue_head + stress_queue_length++) % STRESS_QUEUE] = block;
    pthread_mutex_unlock(&stress_queue_lock);
    return pushed;
}

/* The oldest block, when more than keep are queued (NULL otherwise). */
static inline struct stress_block *stress_pop(size_t keep)
{
    struct stress_block *block = NULL;
    pthread_mutex_lock(&stress_queue_lock);
    if (stress_queue_length > keep) {
        block = stress_queue[stress_queue_head];
        stress_queue_head = (stress_queue_head + 1) % STRESS_QUEUE;
        stress_queue_length--;
    }
    pthread_mutex_unlock(&stress_queue_lock);
    return block;
}

/* One step of churn: a new block goes into the queue (or is freed when it is full), and the
 * oldest comes out and is freed. The queue stays half full, so that the block that comes
 * out was usually queued by another thread, whatever the scheduler does (with an empty queue
 * a thread would mostly take back its own block). */
static inline void stress_step(uint32_t self, uint64_t *random)
{
    struct stress_block *block = make_block(self, random);
    if (!stress_push(block))
        release_block(block, self);
    struct stress_block *other = stress_pop(STRESS_QUEUE / 2);
    if (other != NULL)
        release_block(other, self);
}

/* A churn thread; its argument is its index. */
static inline void *stress_churn(void *argument)
{
    uint32_t self = (uint32_t)(uintptr_t)argument;
    uint64_t random = 0x9e3779b97f4a7c15ull * (self + 1);
    while (!atomic_load(&stress_stop))
        stress_step(self, &random);
    return NULL;
}

/* A churn thread that pauses 1 ms every 256 steps: for programs whose main thread has work
 * of its own to do (fork, exec, dlopen), which full-speed churn threads on a loaded
 * 2-core machine would starve. The threads are still mid-allocation most of the time. */
static inline void *stress_churn_paced(void *argument)
{
    uint32_t self = (uint32_t)(uintptr_t)argument;
    uint64_t random = 0x9e3779b97f4a7c15ull * (self + 1);
    for (unsigned step = 1; !atomic_load(&stress_stop); step++) {
        stress_step(self, &random);
        if (step % 256 == 0)
            sleep_ms(1);
    }
    return NULL;
}

/* Frees what the churn left in the queue (after the churn threads were joined). */
static inline void stress_drain(uint32_t self)
{
    for (struct stress_block *block; (block = stress_pop(0)) != NULL;)
        release_block(block, self);
}

/* A block nothing points to once this returns: a leak whatever the reachability analysis
 * decides, but a test asserts no more than "at most one exit row" for it (a stale copy of
 * the pointer in a register or on a stack may still make it look reachable). */
__attribute__((noinline, unused)) static void leak_on_purpose(size_t size)
{
    char *volatile block = malloc(size);
    if (block == NULL)
        abort();
    block[0] = 1;
    block = NULL;
}

/* Appends one line to the file named by $STRESS_LOG (when set): how a program tells the
 * test the process ids of its children without changing its standard output, which the
 * test compares with the untraced run's. */
static inline void stress_log(const char *format, ...)
{
    const char *path = getenv("STRESS_LOG");
    if (path == NULL)
        return;
    char line[256];
    va_list args;
    va_start(args, format);
    int length = vsnprintf(line, sizeof line, format, args);
    va_end(args);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        _exit(98);
    if (write(fd, line, (size_t)length) != length)
        _exit(98);
    close(fd);
}

#endif
