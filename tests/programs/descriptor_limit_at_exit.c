/* descriptor_limit_at_exit.c: leaks a block, then lowers its limit on descriptors so far
 * that no file can be opened any more (as a server that ran out of them), and exits: the
 * leak scan cannot read the process's map, and says why. */
#include "common.h"

#include <stdlib.h>
#include <sys/resource.h>

static void *volatile kept;

__attribute__((noinline)) static void leak_block(void)
{
    void *block = malloc(123);
    expect("leak", block, 123, "malloc", "*"); /* no descriptor left to name frames with */
    kept = forget(block);
}

int main(void)
{
    leak_block();
    struct rlimit none = {3, 3}; /* stdin, stdout and stderr: nothing above */
    return setrlimit(RLIMIT_NOFILE, &none) == 0 ? 0 : 2;
}
