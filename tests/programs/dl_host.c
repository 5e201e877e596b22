/* dl_host.c: `dl_host FIRST.so SECOND.so`: loads each plugin in turn, lets it allocate (the
 * block leaks), and unloads it before the next is loaded (often at the same address). */
#include "common.h"

#include <dlfcn.h>
#include <stdlib.h>

__attribute__((noinline)) static void *allocate_for_plugin(size_t size)
{
    void *block = malloc(size);
    __asm__ volatile("" ::: "memory");
    return block;
}

static int run(const char *path, const char *work)
{
    void *plugin = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (plugin == NULL)
        return 1;
    void *(*plugin_run)(void *(*)(size_t)) = (void *(*)(void *(*)(size_t)))dlsym(plugin,
                                                                                 "plugin_run");
    void *block = plugin_run(allocate_for_plugin);
    say("EXPECT leak %p -1 %ld malloc|allocate_for_plugin %s %s\n", block,
        (long)syscall(SYS_gettid), work, path);
    return dlclose(plugin);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    return run(argv[1], "work_in_first") || run(argv[2], "work_in_second");
}
