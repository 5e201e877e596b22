/* reloaded_plugin.c: a plugin whose plugin_leak() leaks a block of 333 bytes. Built twice
 * under two names (identical code), for unloaded_plugin_host.c. */
#include <stdlib.h>

__attribute__((noinline)) void *plugin_allocate(void)
{
    return malloc(333);
}

void plugin_leak(void);

void plugin_leak(void)
{
    void *volatile leaked = plugin_allocate();
    (void)leaked;
}
