/* replaced_plugin_host.c PATH FIRST SECOND ROUNDS: a plugin at PATH, its build FIRST and
 * SECOND in turn. Each round leaks 1000 + round bytes through the loaded build (from a call
 * site of the round's own), then one thread unloads it while another waits for the unmapping,
 * moves the other build to PATH and loads it: most often at the same address, while the
 * unloading thread's dlclose is still inside the tracer. */
#include "common.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <stdatomic.h>
#include <stdlib.h>

static const char *plugin_path;
static char next_path[PATH_MAX];
static void *handle;
static atomic_int unloading;
static void *leaks[64];

static int find_plugin(struct dl_phdr_info *info, size_t size, void *found)
{
    (void)size;
    if (strcmp(info->dlpi_name, plugin_path) == 0)
        *(int *)found = 1;
    return 0;
}

static int plugin_mapped(void)
{
    int found = 0;
    dl_iterate_phdr(find_plugin, &found);
    return found;
}

static int copy_file(const char *from, const char *to)
{
    static char buffer[1 << 16];
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    ssize_t got = 0;
    while (in >= 0 && out >= 0 && (got = read(in, buffer, sizeof buffer)) > 0)
        if (write(out, buffer, (size_t)got) != got)
            got = -1;
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return in >= 0 && out >= 0 && got == 0 ? 0 : -1;
}

static void *load(void)
{
    void *loaded = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL);
    if (loaded != NULL)
        ((void (*)(atomic_int *))dlsym(loaded, "watch"))(&unloading);
    return loaded;
}

static void *unload(void *unused)
{
    (void)unused;
    dlclose(handle);
    return NULL;
}

static void *load_the_other_build(void *unused)
{
    (void)unused;
    while (!atomic_load(&unloading))
        continue;
    while (plugin_mapped())
        continue;
    if (rename(next_path, plugin_path) == 0)
        handle = load();
    return NULL;
}

/* The round's own call site: each bit of round picks one of two calls. */
__attribute__((noinline)) static void *allocate(int levels, unsigned round,
                                                void *(*entry)(size_t), size_t size)
{
    volatile unsigned bit = round & 1u;
    if (levels == 0)
        return entry(size);
    void *block;
    if (bit)
        block = allocate(levels - 1, round >> 1, entry, size);
    else
        block = allocate(levels - 1, round >> 1, entry, size);
    return block;
}

int main(int argc, char **argv)
{
    if (argc != 5)
        return 2;
    plugin_path = argv[1];
    int rounds = atoi(argv[4]);
    snprintf(next_path, sizeof next_path, "%s.next", plugin_path);
    if (copy_file(argv[2], plugin_path) != 0 || (handle = load()) == NULL)
        return 3;
    for (int round = 0; round < rounds && round < 64; round++) {
        void *(*entry)(size_t) = (void *(*)(size_t))dlsym(handle, "entry");
        leaks[round] = hide(allocate(6, (unsigned)round, entry, 1000 + (size_t)round));
        if (round + 1 == rounds)
            break;
        if (copy_file(argv[round % 2 ? 2 : 3], next_path) != 0)
            return 4;
        atomic_store(&unloading, 0);
        pthread_t unloader, loader;
        pthread_create(&loader, NULL, load_the_other_build, NULL);
        pthread_create(&unloader, NULL, unload, NULL);
        pthread_join(unloader, NULL);
        pthread_join(loader, NULL);
        if (handle == NULL)
            return 5;
    }
    say("rounds %d\n", rounds);
    return 0;
}
