/* lifecycle.c: allocations before main (a constructor) and after it (a destructor and an
 * atexit handler): all run while the tracer traces, and each leak is reported. */
#include "common.h"

#include <stdlib.h>

static void *blocks[3];

__attribute__((constructor)) static void before_main(void)
{
    blocks[0] = hide(malloc(31));
    expect("leak", hide(blocks[0]), 31, "malloc", "before_main");
}

static void at_exit(void)
{
    blocks[1] = hide(malloc(41));
    expect("leak", hide(blocks[1]), 41, "malloc", "at_exit");
    free(malloc(5));
}

__attribute__((destructor)) static void after_main(void)
{
    blocks[2] = hide(calloc(1, 51));
    expect("leak", hide(blocks[2]), 51, "calloc", "after_main");
    free(malloc(6));
}

int main(void)
{
    atexit(at_exit);
    return 0;
}
