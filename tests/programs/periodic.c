/* periodic.c: run with malloc_second_peremption=1. Mode "late": a block kept to the end, a
 * block freed after the flush that wrote it (a late free), and a block a global still points
 * to at exit (its `reachable` exit row settles its `malloc` row). Mode "getline" (wrap forms): the
 * same for a buffer getline fills twice. Mode "move": the trace file is
 * renamed while the program runs (argv[2]: the new name); the next flush re-creates it. */
#include "common.h"

#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void *allocate(size_t size)
{
    void *block = malloc(size);
    say("# allocated %p\n", block);
    return block;
}

static void *cached;

__attribute__((noinline)) static void release(void *block)
{
    free(block);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    void *kept = allocate(111);
    if (strcmp(argv[1], "late") == 0) {
        void *late = allocate(222);
        cached = allocate(555);
        release(allocate(333)); /* freed at once: no row at all */
        sleep_ms(2500);         /* flushes at about 1 s (too young) and 2 s (written) */
        release(late);
        expect("malloc", kept, 111, "malloc", "allocate");
        expect("malloc", late, 222, "malloc", "allocate");
        expect("free", late, 222, "free", "release");
        expect("leak", kept, 111, "malloc", "allocate");
        expect("malloc", cached, 555, "malloc", "allocate");
        expect("reachable", cached, 555, "malloc", "allocate");
        sleep_ms(1200); /* the flush at about 3 s writes the late free */
    } else if (strcmp(argv[1], "getline") == 0) {
        /* A buffer getline reuses keeps its record: written as malloc, then a late free. */
        char text[] = "one\n";
        FILE *stream = fmemopen(text, sizeof text - 1, "r");
        char *line = NULL;
        size_t capacity = 0;
        if (getline(&line, &capacity, stream) != 4)
            return 4;
        fclose(stream); /* each stream lives less than a period: no row of its own */
        sleep_ms(2500); /* the flush at about 2 s writes the buffer as malloc */
        stream = fmemopen(text, sizeof text - 1, "r");
        if (getline(&line, &capacity, stream) != 4)
            return 5;
        fclose(stream);
        release(line);
        expect("malloc", line, (long)capacity, "getline", "main");
        expect("free", line, (long)capacity, "free", "release");
        release(kept);
        expect("malloc", kept, 111, "malloc", "allocate");
        expect("free", kept, 111, "free", "release");
        sleep_ms(1200);
    } else if (strcmp(argv[1], "move") == 0 && argc == 3) {
        sleep_ms(2500); /* the flush at about 2 s writes kept as malloc */
        const char *path = getenv("out_file_path");
        if (rename(path, argv[2]) != 0)
            return 3;
        sleep_ms(1000); /* the flush at about 3 s re-creates the file */
        void *later = allocate(444);
        expect("leak", kept, 111, "malloc", "allocate");
        expect("leak", later, 444, "malloc", "allocate");
    } else {
        return 2;
    }
    return 0;
}
