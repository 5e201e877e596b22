/* os.c: system services for the tracer (see os.h). */
#define _GNU_SOURCE
#include "os.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

static __thread pid_t cached_thread_id;

pid_t os_thread_id(void)
{
    if (__builtin_expect(cached_thread_id == 0, 0))
        cached_thread_id = (pid_t)syscall(SYS_gettid);
    return cached_thread_id;
}

void os_forget_thread_id(void)
{
    cached_thread_id = 0;
}

uint64_t os_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME_COARSE, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

/* The tracer's system calls leave errno as the program had it: a malloc or free that changed
 * it (ENOMEM from a mapping of the tracer's that the kernel refused, EINVAL from madvise on a
 * kernel older than 5.14) broke glibc's promise that free keeps errno. */
#define KEEPING_ERRNO(call)                                                                   \
    ({                                                                                        \
        int saved_errno_ = errno;                                                             \
        __typeof__(call) result_ = (call);                                                    \
        errno = saved_errno_;                                                                 \
        result_;                                                                              \
    })

static void *map_anonymous(size_t size, int more_flags)
{
    void *p = KEEPING_ERRNO(mmap(NULL, size, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS | more_flags, -1, 0));
    return p == MAP_FAILED ? NULL : p;
}

void *os_map(size_t size)
{
    return map_anonymous(size, 0);
}

void *os_map_populated(size_t size)
{
    return map_anonymous(size, MAP_POPULATE);
}

/* A limit on address space (RLIMIT_AS) counts reservations, which commit nothing, as much
 * as the program's own mappings: the tracer's two regions of 4 GiB took what a program run
 * under `ulimit -v` needed for its own large blocks. Under a limit, a reservation takes at
 * most this share of it. */
#define RESERVATION_SHARE_OF_LIMIT 16u

/* The limit as last read: an allocation that grows a table must make no system call the
 * program does not make itself (a seccomp filter that kills at any other, as sshd's child
 * before authentication has, killed the thread at getrlimit). */
static _Atomic uint64_t address_space_limit;
static atomic_bool address_space_limit_read;

void os_read_address_space_limit(void)
{
    struct rlimit limit;
    atomic_store(&address_space_limit, KEEPING_ERRNO(getrlimit(RLIMIT_AS, &limit)) != 0
                                           ? (uint64_t)RLIM_INFINITY
                                           : (uint64_t)limit.rlim_cur);
    atomic_store(&address_space_limit_read, true);
}

size_t os_reservation_share(void)
{
    if (!atomic_load_explicit(&address_space_limit_read, memory_order_relaxed))
        os_read_address_space_limit();
    uint64_t limit = atomic_load_explicit(&address_space_limit, memory_order_relaxed);
    if (limit == (uint64_t)RLIM_INFINITY)
        return SIZE_MAX;
    return (size_t)(limit / RESERVATION_SHARE_OF_LIMIT);
}

void *os_reserve(size_t *size_in_out)
{
    size_t size = *size_in_out;
    size_t share = os_reservation_share();
    if (size > share)
        size = share;
    /* An inaccessible mapping commits no memory, even under strict overcommit
     * (vm.overcommit_memory=2); halve all the same until the kernel agrees, down to 1 MiB
     * (or to what was asked, if less). */
    for (;;) {
        void *p = size != 0 ? KEEPING_ERRNO(mmap(NULL, size, PROT_NONE,
                                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0))
                            : MAP_FAILED;
        if (p != MAP_FAILED) {
            *size_in_out = size;
            return p;
        }
        if (size / 2 < ((size_t)1 << 20))
            break;
        size /= 2;
    }
    *size_in_out = 0;
    return NULL;
}

void os_fit_reservation(void *start, size_t *size_in_out, size_t in_use, size_t wanted)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t share = os_reservation_share();
    size_t keep = wanted < share ? wanted : share;
    if (keep < in_use)
        keep = in_use;
    keep = (keep + page - 1) / page * page;
    if (start == NULL || keep >= *size_in_out)
        return;
    if (KEEPING_ERRNO(munmap((char *)start + keep, *size_in_out - keep)) == 0)
        *size_in_out = keep;
}

bool os_has_room_for(size_t size)
{
    void *p = map_anonymous(size, MAP_NORESERVE);
    if (p == NULL)
        return false;
    KEEPING_ERRNO(munmap(p, size));
    return true;
}

bool os_commit(void *address, size_t size)
{
    return KEEPING_ERRNO(mprotect(address, size, PROT_READ | PROT_WRITE)) == 0;
}

void *os_map_grown(void *old, size_t old_bytes, size_t used_bytes, size_t bytes)
{
    char *grown = os_map(bytes);
    if (grown == NULL)
        return NULL;
    if (used_bytes != 0)
        memcpy(grown, old, used_bytes);
    os_unmap(old, old_bytes);
    return grown;
}

bool os_commit_populated(void *address, size_t size)
{
    /* Whole pages of the system's size (16 or 64 KiB on some aarch64 kernels): committing a
     * page again changes nothing. mprotect, not a fixed mmap: a failed one leaves the
     * reservation as it was, where an mmap may have unmapped it first. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *start = (char *)address - ((uintptr_t)address & (page - 1));
    char *end = (char *)address + size;
    end += (page - ((uintptr_t)end & (page - 1))) & (page - 1);
    if (KEEPING_ERRNO(mprotect(start, (size_t)(end - start), PROT_READ | PROT_WRITE)) != 0)
        return false;
    if (KEEPING_ERRNO(madvise(start, (size_t)(end - start), MADV_POPULATE_WRITE)) != 0) {
        /* Before Linux 5.14: a write a page backs it all the same (of the byte that is there:
         * the first page may hold data already). */
        for (char *at = start; at < end; at += page)
            __atomic_fetch_or(at, 0, __ATOMIC_RELAXED);
    }
    return true;
}

const char *os_error_text(int error)
{
    const char *text = strerrordesc_np(error);
    return text != NULL ? text : "unknown error";
}

void os_decommit(void *address, size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *start = (char *)address + ((page - ((uintptr_t)address & (page - 1))) & (page - 1));
    char *end = (char *)address + size;
    end -= (uintptr_t)end & (page - 1);
    if (end <= start)
        return;
    /* The pages go back to the kernel with MADV_DONTNEED; PROT_NONE makes them a reservation
     * again, which nothing scans (os_reserve). A refusal leaves them committed: only memory
     * not returned. */
    if (KEEPING_ERRNO(madvise(start, (size_t)(end - start), MADV_DONTNEED)) == 0)
        KEEPING_ERRNO(mprotect(start, (size_t)(end - start), PROT_NONE));
}

void os_unmap(void *address, size_t size)
{
    if (address != NULL)
        KEEPING_ERRNO(munmap(address, size));
}

void os_leak_root_add(const void *address, size_t size)
{
#ifdef __SANITIZE_ADDRESS__
    __lsan_register_root_region(address, size);
#else
    (void)address;
    (void)size;
#endif
}

void os_leak_root_remove(const void *address, size_t size)
{
#ifdef __SANITIZE_ADDRESS__
    __lsan_unregister_root_region(address, size);
#else
    (void)address;
    (void)size;
#endif
}

void os_message(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char body[1024], line[1024];
    int saved_errno = errno;
    /* args is started above; the analyzer loses track of it through glibc's headers. */
    if (vsnprintf(body, sizeof body, format, args) < 0) // NOLINT
        body[0] = '\0';
    va_end(args);
    /* One line, whatever a path or a value in it holds: a control character as \xHH. */
    size_t length = (size_t)snprintf(line, sizeof line, "malloc-trace: ");
    for (const char *at = body; *at != '\0' && length + sizeof "\\xHH" < sizeof line; at++) {
        unsigned char c = (unsigned char)*at;
        if (c < 0x20 || c == 0x7f)
            length += (size_t)snprintf(line + length, sizeof line - length, "\\x%02x", c);
        else
            line[length++] = (char)c;
    }
    line[length++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, length);
    (void)ignored;
    errno = saved_errno;
}

void os_message_text(const char *text)
{
    int saved_errno = errno;
    struct iovec parts[] = {{(void *)"malloc-trace: ", sizeof "malloc-trace: " - 1},
                            {(void *)text, strlen(text)},
                            {(void *)"\n", 1}};
    ssize_t ignored = writev(STDERR_FILENO, parts, sizeof parts / sizeof parts[0]);
    (void)ignored;
    errno = saved_errno;
}
