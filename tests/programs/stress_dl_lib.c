/* stress_dl_lib.c: the library stress_dlopen loads and unloads 150 times. Its constructor
 * allocates (one block kept until the destructor frees it, one freed at once, one leaked on
 * purpose), and lib_work allocates, frees most of it, and hands one block to the host, which
 * frees it. Built on its own, without the tracer: in the wrap form its calls are not seen. */
#include <stdlib.h>
#include <string.h>

static char *kept_until_unload;

__attribute__((noinline)) static void lib_leak(void)
{
    char *volatile block = malloc(77);
    if (block == NULL)
        abort();
    block[0] = 1;
    block = NULL;
}

__attribute__((constructor)) static void lib_load(void)
{
    kept_until_unload = malloc(100);
    char *copy = strdup("loaded");
    if (kept_until_unload == NULL || copy == NULL)
        abort();
    free(copy);
    lib_leak();
}

__attribute__((destructor)) static void lib_unload(void)
{
    free(kept_until_unload);
}

void *lib_work(int round)
{
    void *blocks[10];
    for (int i = 0; i < 10; i++) {
        blocks[i] = calloc(1, (size_t)(round % 50 + i + 1));
        if (blocks[i] == NULL)
            abort();
    }
    blocks[3] = realloc(blocks[3], 5000);
    for (int i = 1; i < 10; i++)
        free(blocks[i]);
    return blocks[0]; /* the host frees it */
}
