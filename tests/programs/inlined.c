/* inlined.c: built at -O0 and at -O2 -g, where grab and grab_twice are inlined into
 * outer_site. Markers of the form AT(name) name the lines the tests expect. */
#include "common.h"

#include <stdlib.h>
#include <string.h>

void *kept[4];

static inline __attribute__((always_inline)) void *grab(size_t size)
{
    void *block = malloc(size); /* AT(grab) */
    memset(block, 1, size);
    return block;
}

static inline __attribute__((always_inline)) void *grab_twice(size_t size)
{
    void *first = grab(size); /* AT(grab_twice) */
    kept[1] = hide(first);
    return first;
}

__attribute__((noinline)) void outer_site(size_t size)
{
    kept[0] = hide(grab_twice(size)); /* AT(outer_site) */
    __asm__ volatile("" ::: "memory");
}

int main(void)
{
    outer_site(123); /* AT(main) */
    expect("leak", hide(kept[0]), 123, "malloc", "*");
    return 0;
}
