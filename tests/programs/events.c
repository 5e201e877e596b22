/* events.c: allocates through every C entry point, leaks a known set of blocks, frees one
 * address the tracer never saw, and prints one `EXPECT kind address size thread_id frame0|frame1`
 * line per row it expects (stdout through write(2): stdio would allocate). frame1 is the
 * exact frame 1, or with a leading ~ the first frame in the program. */
#include "common.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

void *__libc_malloc(size_t size); /* glibc's allocator, intercepted by neither form */

static int in_wrap_form(void)
{
    return getenv("EVENTS_FORM") && strcmp(getenv("EVENTS_FORM"), "preload") != 0;
}

void *kept[64];
static int kept_count;

static void keep(void *ptr)
{
    kept[kept_count++] = forget(ptr);
}

__attribute__((noinline)) static void leak_malloc(void)
{
    void *p = malloc(100);
    expect("leak", p, 100, "malloc", "leak_malloc");
    keep(p);
}

__attribute__((noinline)) static void leak_calloc(void)
{
    void *p = calloc(3, 40);
    expect("leak", p, 120, "calloc", "leak_calloc");
    keep(p);
}

__attribute__((noinline)) static void leak_realloc(void)
{
    void *p = malloc(10);
    void *q = realloc(p, 5000);
    expect("leak", q, 5000, "realloc", "leak_realloc");
    keep(q);
}

__attribute__((noinline)) static void leak_reallocarray(void)
{
    /* A block the table holds: glibc's reallocarray calls realloc, which a static link
     * wraps too, and the inner call wrote the block as an orphan free. */
    void *p = reallocarray(reallocarray(NULL, 1, 5), 7, 9);
    expect("leak", p, 63, "reallocarray", "leak_reallocarray");
    keep(p);
}

__attribute__((noinline)) static void leak_aligned(void)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, 200) != 0)
        _exit(98);
    expect("leak", p, 200, "posix_memalign", "leak_aligned");
    keep(p);
    void *q = aligned_alloc(128, 256);
    expect("leak", q, 256, "aligned_alloc", "leak_aligned");
    keep(q);
    void *r = memalign(32, 48);
    expect("leak", r, 48, "memalign", "leak_aligned");
    keep(r);
    void *s = valloc(300);
    expect("leak", s, 300, "valloc", "leak_aligned");
    keep(s);
    if (!RUNNING_ON_VALGRIND) {
        void *t = pvalloc(10);
        expect("leak", t, 10, "pvalloc", "leak_aligned");
        keep(t);
    }
}

__attribute__((noinline)) static char *format_with_vasprintf(const char *format, ...)
{
    char *out = NULL;
    va_list args;
    va_start(args, format);
    int length = vasprintf(&out, format, args);
    va_end(args);
    return length < 0 ? NULL : out;
}

__attribute__((noinline)) static void leak_strings(void)
{
    /* In the preload form libc's own malloc is what the tracer sees: frame 0 is malloc and
     * frame 1 is the libc function (CONTRACT section 5). */
    int wrap = in_wrap_form();
    char *a = strdup("twelve bytes");
    expect("leak", a, 13, wrap ? "strdup" : "malloc", wrap ? "leak_strings" : "~leak_strings");
    keep(a);
    char *b = NULL;
    int n = asprintf(&b, "%d-%s", 42, "x");
    expect("leak", b, n + 1, wrap ? "asprintf" : "malloc",
           wrap ? "leak_strings" : "~leak_strings");
    keep(b);
    char *c = strndup("abcdefgh", 3);
    expect("leak", c, 4, wrap ? "strndup" : "malloc", wrap ? "leak_strings" : "~leak_strings");
    keep(c);
    wchar_t *w = wcsdup(L"wide");
    expect("leak", w, 5 * (long)sizeof(wchar_t), wrap ? "wcsdup" : "malloc",
           wrap ? "leak_strings" : "~leak_strings");
    keep(w);
    char *cwd = getcwd(NULL, 0);
    expect("leak", cwd, wrap ? (long)strlen(cwd) + 1 : -1, wrap ? "getcwd" : "*",
           wrap ? "leak_strings" : "~leak_strings");
    keep(cwd);
    char *dir = get_current_dir_name();
    expect("leak", dir, wrap ? (long)strlen(dir) + 1 : -1, wrap ? "get_current_dir_name" : "*",
           wrap ? "leak_strings" : "~leak_strings");
    keep(dir);
    char *real = realpath("/", NULL);
    expect("leak", real, wrap ? 2 : -1, wrap ? "realpath" : "*",
           wrap ? "leak_strings" : "~leak_strings");
    keep(real);
    char text[] = "first line\nsecond;line\n";
    FILE *stream = fmemopen(text, sizeof text - 1, "r");
    char *line = NULL;
    size_t capacity = 0;
    if (getline(&line, &capacity, stream) != 11)
        _exit(96);
    expect("leak", line, (long)capacity, wrap ? "getline" : "*",
           wrap ? "leak_strings" : "~leak_strings");
    keep(line);
    char *field = NULL;
    size_t field_capacity = 0;
    if (getdelim(&field, &field_capacity, ';', stream) != 7)
        _exit(95);
    expect("leak", field, (long)field_capacity, wrap ? "getdelim" : "*",
           wrap ? "leak_strings" : "~leak_strings");
    keep(field);
    fclose(stream);
    char *formatted = format_with_vasprintf("%s=%d", "answer", 42);
    expect("leak", formatted, 10, wrap ? "vasprintf" : "*",
           wrap ? "format_with_vasprintf" : "~format_with_vasprintf");
    keep(formatted);
}

__attribute__((noinline)) static void free_balanced(void)
{
    for (int i = 0; i < 100; i++) {
        void *p = malloc((size_t)i + 1);
        free(p);
    }
    char *d = strdup("freed");
    free(d);
    /* getline growing a buffer the program allocated: the old block is settled, the new one
     * freed by the program is no orphan. */
    char text[] = "a line longer than the four bytes first given to getline\n";
    FILE *stream = fmemopen(text, sizeof text - 1, "r");
    size_t capacity = 4;
    char *line = malloc(capacity);
    if (getline(&line, &capacity, stream) <= 0)
        _exit(94);
    fclose(stream);
    free(line);
    char *resolved = realpath("/", NULL);
    free(resolved);
    void *r = realloc(NULL, 10);
    r = realloc(r, 0); /* glibc frees and returns NULL */
    if (r != NULL)
        _exit(97);
}

#ifdef __SANITIZE_ADDRESS__
/* Under AddressSanitizer (the dynamic wrap form only: ASan has no static runtime and cannot
 * share a process with the preload library) its allocator owns malloc, and rightly stops at
 * the free of a block glibc's __libc_malloc gave. A block libc allocates for itself is just
 * as foreign to the tracer there: --wrap does not reach the calls inside libc.so. */
static void *foreign_block(void)
{
    char *buffer = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&buffer, &size);
    if (stream == NULL || fputs("libc's own block", stream) == EOF || fclose(stream) != 0)
        _exit(93);
    return buffer;
}
#else
static void *foreign_block(void)
{
    return __libc_malloc(24);
}
#endif

__attribute__((noinline)) static void free_unknown(void)
{
    void *p = foreign_block();
    expect("free", p, 0, "free", "free_unknown");
    free(p);
}

int main(void)
{
    leak_malloc();
    leak_calloc();
    leak_realloc();
    leak_reallocarray();
    leak_aligned();
    leak_strings();
    free_balanced();
    free_unknown();
    return 0;
}
