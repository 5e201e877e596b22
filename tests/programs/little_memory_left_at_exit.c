/* little_memory_left_at_exit.c: leaks a block, lowers its limit on address space to 256 MiB,
 * maps all of it but 1 MiB, and exits with status 7. libdw, asked to name the leak's frames
 * with that little room, ended the process itself (`libdw: Cannot allocate memory`, status
 * 1) or failed an assertion (status 134), and the leak row was lost. */
#include "common.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>

static void *kept;

/* Maps inaccessible MiBs until the limit refuses one, then unmaps the last few of them:
 * what is left to map is about that much, whatever the tracer and the libraries took. */
static void take_all_but(unsigned mib_left)
{
    static void *taken[4096];
    size_t count = 0;
    while (count < sizeof taken / sizeof *taken) {
        void *chunk = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (chunk == MAP_FAILED)
            break;
        taken[count++] = chunk;
    }
    for (size_t i = 0; i < mib_left && i < count; i++)
        munmap(taken[count - 1 - i], 1 << 20);
}

__attribute__((noinline)) static void leak(void)
{
    void *block = malloc(77);
    expect("leak", block, 77, "malloc", "*"); /* frames as MODULE+0xOFFSET: see the test */
    kept = hide(block);
}

int main(void)
{
    leak();
    struct rlimit limit = {(rlim_t)256 << 20, RLIM_INFINITY};
    if (setrlimit(RLIMIT_AS, &limit) != 0)
        return 97;
    take_all_but(1);
    return 7;
}
