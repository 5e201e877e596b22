/* symbolizer.c: libdwfl over the modules of /proc/self/maps, re-read when an address is in
 * none of them, and forgotten after a dlclose; module_symbols names the addresses. */
#define _GNU_SOURCE
#include "symbolizer.h"

#include <elfutils/libdwfl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc_self.h"
#include "unwind_table.h"

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
    /* The thread's own view: the process's is empty once main has exited. */
    int fd = proc_self_open("/proc/thread-self/maps", 0);
    if (fd < 0)
        fd = proc_self_open("/proc/self/maps", 0);
    FILE *maps = fd >= 0 ? fdopen(fd, "re") : NULL;
    if (maps == NULL) {
        if (fd >= 0)
            close(fd);
        return false;
    }
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
static char executable_path[PATH_MAX];

void symbolizer_start(void)
{
    ssize_t length = readlink("/proc/self/exe", executable_path, sizeof executable_path - 1);
    executable_path[length > 0 ? length : 0] = '\0';
}

bool symbolizer_describe_by_loader(uintptr_t address, bool may_allocate,
                                   struct source_frame *frame)
{
    // NOLINTNEXTLINE(performance-no-int-to-ptr)
    const struct link_map *module = unwind_table_module_of((const void *)address);
    if (module == NULL)
        return false;
    const char *name = module->l_name[0] == '\0' ? executable_path : module->l_name;
    if (name[0] != '/') /* the vDSO, or an executable whose path was not known */
        return false;
    static char path[PATH_MAX], function[PATH_MAX + 24];
    /* The loader's path may pass a symbolic link (/lib is /usr/lib on Debian), the maps name
     * where it leads. realpath allocates only for a path over 1 KiB. */
    if (!may_allocate || realpath(name, path) == NULL) {
        size_t length = strlen(name);
        if (length >= PATH_MAX)
            return false;
        memcpy(path, name, length + 1);
    }
    snprintf(function, sizeof function, "%s+0x%llx", path,
             (unsigned long long)(address - module->l_addr));
    *frame = (struct source_frame){function, "", 0, path};
    return true;
}

size_t symbolizer_describe(uintptr_t return_address, bool symbols, struct source_frame *frames,
                           size_t max)
{
    /* The call instruction ends at the return address: look up the byte before it, which
     * is inside the call even when the call is the last instruction of its function. */
    uintptr_t address = return_address - 1;
    Dwfl_Module *module = module_at(address);
    Dwarf_Addr bias;
    if ((module == NULL || dwfl_module_getelf(module, &bias) == NULL) && max > 0) {
        /* libdw knows no module there, or cannot read it: /proc/self/maps or the module's
         * file could not be opened (a chroot, a sandbox's filter), or the code is in none
         * (JIT). MODULE+0xOFFSET all the same where the loader knows the module, for
         * `malloc-trace symbolize` to name later (libdw's offset, without the file, was the
         * absolute address). */
        if (symbolizer_describe_by_loader(address, true, &frames[0]))
            return 1;
    }
    return module_symbols_describe(module, address, symbols, frames, max);
}
