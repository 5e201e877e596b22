/* symbolizer.c: libdwfl over the modules of /proc/self/maps, re-read when an address is in
 * none of them, and forgotten after a dlclose; module_symbols names the addresses. */
#define _GNU_SOURCE
#include "symbolizer.h"

#include <elfutils/libdwfl.h>
#include <stdio.h>
#include <unistd.h>

static Dwfl *session;
static bool reread_allowed = true;

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = module_symbols_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

static bool read_modules(void)
{
    if (session == NULL) {
        session = dwfl_begin(&callbacks);
        if (session == NULL)
            return false;
    }
    /* Reported from /proc/self/maps itself, not with dwfl_linux_proc_report, which first reads
     * /proc/PID/auxv: a daemon that dropped its privileges (memcached -u nobody) may no longer
     * read that file, and would then get no module at all. */
    FILE *maps = fopen("/proc/thread-self/maps", "re");
    if (maps == NULL) /* the thread's own view: the process's is empty once main has exited */
        maps = fopen("/proc/self/maps", "re");
    if (maps == NULL)
        return false;
    dwfl_report_begin(session);
    int failed = dwfl_linux_proc_maps_report(session, maps);
    dwfl_report_end(session, NULL, NULL);
    fclose(maps);
    return failed == 0;
}

void symbolizer_new_batch(void)
{
    reread_allowed = true;
}

void symbolizer_forget_modules(void)
{
    if (session != NULL)
        dwfl_end(session);
    session = NULL;
    reread_allowed = true;
}

static Dwfl_Module *module_at(uintptr_t address)
{
    if (session == NULL && !read_modules())
        return NULL;
    Dwfl_Module *module = dwfl_addrmodule(session, address);
    if (module == NULL && reread_allowed) {
        reread_allowed = false;
        if (read_modules())
            module = dwfl_addrmodule(session, address);
    }
    return module;
}
size_t symbolizer_describe(uintptr_t return_address, bool symbols, struct source_frame *frames,
                           size_t max)
{
    /* The call instruction ends at the return address: look up the byte before it, which
     * is inside the call even when the call is the last instruction of its function. */
    uintptr_t address = return_address - 1;
    return module_symbols_describe(module_at(address), address, symbols, frames, max);
}
