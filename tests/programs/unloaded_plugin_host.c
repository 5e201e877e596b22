/* unloaded_plugin_host.c PLUGIN...: loads each plugin, calls its plugin_leak and unloads it
 * before the next, which the dynamic loader then most often maps at the same address. */
#include <dlfcn.h>

#include "common.h"

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        void *plugin = dlopen(argv[i], RTLD_NOW);
        if (plugin == NULL)
            return 1;
        void (*leak)(void) = (void (*)(void))dlsym(plugin, "plugin_leak");
        if (leak == NULL)
            return 2;
        leak();
        dlclose(plugin);
    }
    say("loaded %d\n", argc - 1);
    return 0;
}
