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

#include "memory_map.h"
#include "unwind_table.h"

static Dwfl *session;
static bool reread_allowed = true;

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = module_symbols_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

/* dwfl_linux_proc_maps_report's grouping (a module spans the consecutive mappings of one
 * file), over the maps read with raw system calls: that function wants a FILE, and opening
 * one takes glibc's lock of the list of streams, which a program's thread may hold for good
 * (a signal handler that calls exit() while it interrupts fflush(NULL) waits for our flush
 * lock meanwhile). */
struct module_report {
    char path[PATH_MAX]; /* "" before the first file */
    uint64_t device;
    uint64_t inode;
    uintptr_t low;
    uintptr_t high;
    bool failed;
    bool stale; /* a module known by its path and range holds another file now */
};

static void report_module(struct module_report *report)
{
    if (report->path[0] != '\0') {
        Dwfl_Module *module = dwfl_report_module(session, report->path, report->low, report->high);
        if (module == NULL)
            report->failed = true;
        else if (!module_symbols_same_file(module, report->device, report->inode))
            report->stale = true;
    }
    report->path[0] = '\0';
}

static bool report_mapping(const struct maps_entry *entry, void *report_pointer)
{
    struct module_report *report = report_pointer;
    if (entry->path[0] != '/' || (entry->inode == 0 && entry->device == 0))
        return true; /* not a file's: a module's bss between its segments, say */
    /* The same file under another name is another module (a copy of a library loaded
     * through a hard link into a namespace of its own, by dlmopen). */
    if (report->path[0] != '\0' && entry->inode == report->inode
        && entry->device == report->device && strcmp(entry->path, report->path) == 0) {
        report->high = entry->end;
        return true;
    }
    report_module(report);
    size_t length = strlen(entry->path);
    if (length >= PATH_MAX)
        return true;
    memcpy(report->path, entry->path, length + 1);
    report->device = entry->device;
    report->inode = entry->inode;
    report->low = entry->start;
    report->high = entry->end;
    return true;
}

static void end_session(void)
{
    if (session != NULL) {
        module_symbols_forget(session);
        dwfl_end(session);
    }
    session = NULL;
}

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
    static struct module_report report; /* under flush_lock, as every call here */
    report.path[0] = '\0';
    report.failed = report.stale = false;
    dwfl_report_begin(session);
    bool read = memory_map_visit(report_mapping, &report);
    report_module(&report);
    dwfl_report_end(session, module_symbols_removed, NULL);
    if (report.stale) { /* what libdw read of the old file is no use: all afresh */
        end_session();
        return read_modules();
    }
    return read && !report.failed;
}

void symbolizer_new_batch(void)
{
    reread_allowed = true;
}

void symbolizer_forget_modules(void)
{
    /* A report of the modules there now drops the ones that went, and keeps what libdw has
     * read of the others (libc's debug information alone, decompressed, took 50 ms to read
     * again after each dlclose). */
    if (session != NULL && !read_modules())
        end_session();
    reread_allowed = true;
}

struct module_search {
    uintptr_t address;
    Dwfl_Module *found;
};

static int holds_address(Dwfl_Module *module, void **user_data, const char *name,
                         Dwarf_Addr start, void *search_pointer)
{
    (void)user_data, (void)name, (void)start;
    struct module_search *search = search_pointer;
    Dwarf_Addr low, high;
    dwfl_module_info(module, NULL, &low, &high, NULL, NULL, NULL, NULL);
    if (search->address < low || search->address >= high)
        return DWARF_CB_OK;
    search->found = module;
    return DWARF_CB_ABORT;
}

/* The module that holds address, through the list of modules rather than
 * dwfl_addrmodule: libdwfl's table of segments behind that call is not rebuilt when a report
 * drops a module, and an address of a library loaded where an unloaded one was then gave
 * another module (the executable, named MODULE+0xOFFSET far past its end). Once per
 * distinct return address, over some dozens of modules. */
static Dwfl_Module *listed_module_at(uintptr_t address)
{
    struct module_search search = {address, NULL};
    dwfl_getmodules(session, holds_address, &search, 0);
    return search.found;
}

static Dwfl_Module *module_at(uintptr_t address)
{
    if (session == NULL && !read_modules())
        return NULL;
    Dwfl_Module *module = listed_module_at(address);
    if (module == NULL && reread_allowed) {
        reread_allowed = false;
        if (read_modules())
            module = listed_module_at(address);
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
