/* common.h: what the test programs share: output through write(2) (stdio would allocate
 * and add rows of its own), and the EXPECT lines the tests compare with the trace. */
#ifndef TEST_PROGRAMS_COMMON_H
#define TEST_PROGRAMS_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Under valgrind (test_sanitizers.py) malloc and operator new are valgrind's, which stop the
 * program at a call of pvalloc (not implemented) and abort where libstdc++'s operator new
 * would throw std::bad_alloc: the programs leave those calls out there. Outside valgrind
 * RUNNING_ON_VALGRIND is 0 (a few no-op instructions). */
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

static inline void say(const char *format, ...)
{
    char line[512];
    va_list args;
    va_start(args, format);
    int length = vsnprintf(line, sizeof line, format, args);
    va_end(args);
    if (write(1, line, (size_t)length) < 0)
        _exit(99);
}

/* One row the test must find: kind, address, size (-1: any), allocating (or freeing)
 * thread, frame 0 ("*": any) and frame 1 (a leading ~: the first frame in the program). */
static inline void expect(const char *kind, const void *ptr, long size, const char *frame0,
                          const char *frame1)
{
    say("EXPECT %s %p %ld %ld %s|%s\n", kind, ptr, size, (long)syscall(SYS_gettid), frame0,
        frame1);
}

/* A block's address in a form that is no pointer to it (hide(hide(p)) == p): programs keep
 * their leaks this way, so that the allocation stays used and the leak scan still finds no
 * pointer to the block. */
static inline void *hide(const void *ptr)
{
    return (void *)((unsigned long)ptr ^ 0x5a5a5a5a5a5a5a5aul);
}

/* Clobbers the stack below the caller, where dead frames left copies of pointers (the leak
 * scan reads the live frames whole, and a later call's frame may not overwrite every slot
 * of an earlier one's). */
static __attribute__((noinline, unused)) void scrub_stack(void)
{
    volatile char scratch[8192];
    for (size_t i = 0; i < sizeof scratch; i++)
        scratch[i] = 0;
}

/* Leaks a block for good: clears it (the stale pointers an earlier block at that address
 * left would make the other leaks indirect ones) and returns its address hidden. */
static inline void *forget(void *ptr)
{
    memset(ptr, 0, malloc_usable_size(ptr));
    return hide(ptr);
}

/* Runs body(argument) on a thread with the smallest stack glibc allows, and waits for it;
 * returns pthread_create's status. */
static inline __attribute__((unused)) int run_on_the_smallest_stack(void *(*body)(void *),
                                                                     void *argument)
{
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setstacksize(&attributes, PTHREAD_STACK_MIN);
    pthread_t thread;
    int status = pthread_create(&thread, &attributes, body, argument);
    if (status == 0)
        pthread_join(thread, NULL);
    pthread_attr_destroy(&attributes);
    return status;
}

static inline void sleep_ms(long milliseconds)
{
    struct timespec delay = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};
    while (nanosleep(&delay, &delay) != 0)
        continue;
}

/* Whether the process's trace (out_file_path, %p in it this process's id) holds a row of that
 * kind and size: read with system calls only (a caller's stdio lock may be held), its first
 * 64 KiB. */
static inline __attribute__((unused)) int trace_has_row(const char *kind, long size)
{
    static char text[1 << 16], path[PATH_MAX];
    char wanted[64];
    int wanted_length = snprintf(wanted, sizeof wanted, "%s;", kind);
    const char *setting = getenv("out_file_path"), *pid_at = strstr(setting, "%p");
    if (pid_at != NULL)
        snprintf(path, sizeof path, "%.*s%ld%s", (int)(pid_at - setting), setting,
                 (long)getpid(), pid_at + 2);
    else
        snprintf(path, sizeof path, "%s", setting);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t length = read(fd, text, sizeof text - 1);
    close(fd);
    text[length > 0 ? length : 0] = '\0';
    for (const char *line = text; line != NULL && *line != '\0'; line = strchr(line, '\n')) {
        line += *line == '\n';
        const char *field = line;
        for (int skipped = 0; skipped < 3 && field != NULL; skipped++)
            if ((field = strchr(field, ';')) != NULL)
                field++;
        if (strncmp(line, wanted, (size_t)wanted_length) == 0 && field != NULL
            && strtol(field, NULL, 10) == size && field[strspn(field, "0123456789")] == ';')
            return 1;
    }
    return 0;
}

#endif
