/* first_walk_in_a_small_stack.c LOCALS: a thread with the smallest stack glibc allows fills
 * LOCALS bytes of it, then makes its first allocation through zlib, a library no stack
 * passed through before: the tracer builds zlib's unwind table then, and must not take the
 * stack for it that the thread does not have. */
#include <stdlib.h>
#include <zlib.h>

#include "common.h"

static size_t locals;

__attribute__((noinline)) static int start_deflating(void)
{
    z_stream stream = {0};
    int status = deflateInit(&stream, 6);
    if (status == Z_OK)
        deflateEnd(&stream);
    return status;
}

__attribute__((noinline)) static int start_deflating_below_locals(void)
{
    volatile char filled[locals];
    for (size_t i = 0; i < locals; i++)
        filled[i] = (char)i;
    int status = start_deflating();
    return filled[0] == 0 ? status : -100;
}

static void *body(void *argument)
{
    *(int *)argument = start_deflating_below_locals();
    return NULL;
}

int main(int argc, char **argv)
{
    locals = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
    int status = -200;
    int created = run_on_the_smallest_stack(body, &status);
    printf("pthread_create %d, deflateInit %d\n", created, status);
    return 0;
}
