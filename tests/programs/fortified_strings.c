/* fortified_strings.c: built at -O2 with -D_FORTIFY_SOURCE=2 (Debian's build flags), where
 * glibc's headers turn getline and getdelim into calls of __getdelim, and asprintf and
 * vasprintf into __asprintf_chk and __vasprintf_chk. Leaks one block of each, frees one of
 * each: the wrap forms write a leak row for each kept block, named by the function the
 * source calls, and no orphan free. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

static void *kept[8];
static int kept_count;

static void keep(void *ptr)
{
    kept[kept_count++] = forget(ptr);
}

__attribute__((noinline)) static char *format(const char *form, ...)
{
    char *out = NULL;
    va_list args;
    va_start(args, form);
    int length = vasprintf(&out, form, args);
    va_end(args);
    return length < 0 ? NULL : out;
}

__attribute__((noinline)) static void printed(void)
{
    char *freed = NULL, *leaked = NULL;
    if (asprintf(&freed, "%d", 42) < 0 || asprintf(&leaked, "%d", 4242) < 0)
        _exit(97);
    free(freed);
    expect("leak", leaked, 5, "asprintf", "*");
    keep(leaked);
    free(format("%s", "freed"));
    char *formatted = format("%s=%d", "answer", 42);
    expect("leak", formatted, 10, "vasprintf", "*");
    keep(formatted);
}

__attribute__((noinline)) static void lines(void)
{
    char text[] = "first line\nsecond;line\nthird\n";
    FILE *stream = fmemopen(text, sizeof text - 1, "r");
    char *freed = NULL, *line = NULL, *field = NULL;
    size_t freed_capacity = 0, capacity = 0, field_capacity = 0;
    if (getline(&freed, &freed_capacity, stream) != 11)
        _exit(96);
    free(freed);
    if (getdelim(&field, &field_capacity, ';', stream) != 7)
        _exit(95);
    expect("leak", field, (long)field_capacity, "getdelim", "*");
    keep(field);
    if (getline(&line, &capacity, stream) != 5)
        _exit(94);
    expect("leak", line, (long)capacity, "getline", "*");
    keep(line);
    fclose(stream);
}

int main(void)
{
    printed();
    lines();
    scrub_stack();
    return 0;
}
