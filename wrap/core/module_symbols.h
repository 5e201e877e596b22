/* module_symbols.h: function, source file and line of an address in one libdwfl module,
 * inlined calls expanded, as `addr2line -f -i -C` prints them. Used by the tracer, over the
 * modules of the running process, and by `malloc-trace symbolize`, over modules on disk. */
#ifndef MALLOC_TRACE_MODULE_SYMBOLS_H
#define MALLOC_TRACE_MODULE_SYMBOLS_H

#include <elfutils/libdwfl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_INLINED_FRAMES 32

struct source_frame {
    const char *function; /* demangled; MODULE+0xOFFSET or 0xADDRESS when unknown, never "" */
    const char *file;     /* "" when unknown */
    int line;             /* 0 when unknown */
    const char *module;   /* path of the module, "" when none is known */
};

/* Describes the code at address (module's address space as libdwfl lays it out; NULL: no
 * module): the innermost (inlined) call first, the function it belongs to last. With
 * symbols false, one frame named MODULE+0xOFFSET. Returns how many frames it filled (at
 * least 1, at most max); their strings stay valid until the next call, and while the
 * module's Dwfl lives. */
size_t module_symbols_describe(Dwfl_Module *module, uintptr_t address, bool symbols,
                               struct source_frame *frames, size_t max);

/* The name dwfl_module_addrname gives address, found by a binary search in an index of the
 * module's symbols, built at the first call and kept in the module's user data: the Dwfl's
 * owner releases that, with module_symbols_removed as dwfl_report_end's callback and
 * module_symbols_forget before dwfl_end. */
const char *module_symbols_addrname(Dwfl_Module *module, uint64_t address);

int module_symbols_removed(Dwfl_Module *module, void *user_data, const char *name,
                           Dwarf_Addr base, void *unused);

/* Whether the module's file is the one (device and inode) it was first seen with, kept in the
 * module's user data at the first call: dwfl_report_module takes a module of the same name
 * and range for the one it knows, also when another file now lies at that path (a plugin
 * rebuilt and loaded again at the address of the one unloaded). */
bool module_symbols_same_file(Dwfl_Module *module, uint64_t device, uint64_t inode);

void module_symbols_forget(Dwfl *dwfl);

/* The find_debuginfo callback: separate debug information by build id under
 * /usr/lib/debug/.build-id, then by the module's .gnu_debuglink name next to it, in its
 * .debug/ and under /usr/lib/debug, as gdb looks; never through debuginfod, which would use
 * the network. */
int module_symbols_find_debuginfo(Dwfl_Module *module, void **user_data,
                                  const char *module_name, Dwarf_Addr base,
                                  const char *file_name, const char *debuglink_file,
                                  GElf_Word debuglink_crc, char **debuginfo_file_name);

/* The command's --sysroot: the modules are files under it, and so is /usr/lib/debug for the
 * look-up by .gnu_debuglink (by build id: the Dwfl's debuginfo_path, which the command sets
 * to DIR/usr/lib/debug). The tracer never calls this. */
void module_symbols_set_sysroot(const char *sysroot);

#endif
