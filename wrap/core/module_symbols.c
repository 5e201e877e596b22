/* module_symbols.c: see module_symbols.h. */
#define _GNU_SOURCE
#include "module_symbols.h"

#include <dwarf.h>
#include <fcntl.h>
#include <libiberty/demangle.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Strings made by the last describe call (demangled names, MODULE+0xOFFSET), freed by the
 * next one; the others belong to libdw's session, which outlives a batch of look-ups. */
static char *scratch[2 * MAX_INLINED_FRAMES + 2];
static size_t scratch_count;

static const char *keep(char *text)
{
    if (text == NULL)
        return "";
    if (scratch_count == sizeof scratch / sizeof *scratch) {
        free(text);
        return "?";
    }
    scratch[scratch_count++] = text;
    return text;
}

static const char *keep_copy(const char *text)
{
    return keep(strdup(text));
}

static void try_debug_file(const char *path, int *fd, char **found)
{
    if (*fd >= 0)
        return;
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd >= 0)
        *found = strdup(path);
}

static const char *debug_sysroot = "";

void module_symbols_set_sysroot(const char *sysroot)
{
    debug_sysroot = strcmp(sysroot, "/") == 0 ? "" : sysroot;
}

/* DIR/usr/lib/debug/.build-id/xx/rest.debug: libdwfl's list of directories cannot name a
 * sysroot with ':' in its path (it splits there). */
static void try_build_id_under_sysroot(Dwfl_Module *module, int *fd, char **found)
{
    const unsigned char *build_id;
    GElf_Addr build_id_address;
    int length = dwfl_module_build_id(module, &build_id, &build_id_address);
    if (length < 2)
        return;
    char path[8192];
    int used = snprintf(path, sizeof path, "%s/usr/lib/debug/.build-id/%02x/", debug_sysroot,
                        build_id[0]);
    for (int i = 1; i < length && used > 0 && (size_t)used + 8 < sizeof path; i++)
        used += snprintf(path + used, sizeof path - (size_t)used, "%02x", build_id[i]);
    if (used > 0 && (size_t)used + 8 < sizeof path) {
        snprintf(path + used, sizeof path - (size_t)used, ".debug");
        try_debug_file(path, fd, found);
    }
}

/* Separate debug information: by build id under /usr/lib/debug/.build-id, then by the
 * module's .gnu_debuglink name next to it, in its .debug/ and under /usr/lib/debug, as gdb
 * looks; /usr/lib/debug under the sysroot when there is one. Never through debuginfod,
 * which would use the network from inside the program. */
int module_symbols_find_debuginfo(Dwfl_Module *module, void **user_data,
                                  const char *module_name, Dwarf_Addr base,
                                  const char *file_name, const char *debuglink_file,
                                  GElf_Word debuglink_crc, char **debuginfo_file_name)
{
    int fd = -1;
    if (debug_sysroot[0] == '\0')
        fd = dwfl_build_id_find_debuginfo(module, user_data, module_name, base, file_name,
                                          debuglink_file, debuglink_crc, debuginfo_file_name);
    else
        try_build_id_under_sysroot(module, &fd, debuginfo_file_name);
    if (fd >= 0 || debuglink_file == NULL || file_name == NULL || file_name[0] != '/')
        return fd;
    char directory[4096];
    snprintf(directory, sizeof directory, "%s", file_name);
    char *slash = strrchr(directory, '/');
    *slash = '\0';
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", directory, debuglink_file);
    if (strcmp(path, file_name) != 0)
        try_debug_file(path, &fd, debuginfo_file_name);
    snprintf(path, sizeof path, "%s/.debug/%s", directory, debuglink_file);
    try_debug_file(path, &fd, debuginfo_file_name);
    /* The module's directory as the target sees it: under the sysroot here. */
    size_t sysroot_length = strlen(debug_sysroot);
    const char *target_directory = directory;
    if (strncmp(directory, debug_sysroot, sysroot_length) == 0
        && (directory[sysroot_length] == '/' || directory[sysroot_length] == '\0'))
        target_directory += sysroot_length; /* "" for the sysroot's own root */
    snprintf(path, sizeof path, "%s/usr/lib/debug%s/%s", debug_sysroot, target_directory,
             debuglink_file);
    try_debug_file(path, &fd, debuginfo_file_name);
    return fd;
}


/* A linkage name as c++filt prints it, or the name as it is (C, or not mangled). */
static const char *readable(const char *name)
{
    if (name[0] == '_' && name[1] == 'Z') {
        char *demangled = cplus_demangle_v3(name, DMGL_PARAMS | DMGL_ANSI);
        if (demangled != NULL)
            return keep(demangled);
    }
    return name;
}

static const char *linkage_name(Dwarf_Die *die)
{
    Dwarf_Attribute attribute;
    if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attribute) != NULL
        || dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attribute) != NULL)
        return dwarf_formstring(&attribute);
    return NULL;
}

/* The symbol-table name of the function around address, bare of its version, readable. */
static const char *symbol_name(Dwfl_Module *module, uintptr_t address)
{
    const char *symbol = dwfl_module_addrname(module, address);
    if (symbol == NULL || symbol[0] == '\0')
        return NULL;
    /* Versioned names (__libc_start_main@@GLIBC_2.34): addr2line prints the bare name. */
    char *bare = strndup(symbol, strcspn(symbol, "@"));
    if (bare == NULL)
        return NULL;
    const char *name = readable(bare);
    if (name == bare)
        return keep(bare);
    free(bare);
    return name;
}

static bool mangles_names(Dwarf_Die *cu)
{
    switch (dwarf_srclang(cu)) {
    case DW_LANG_C_plus_plus:
    case DW_LANG_C_plus_plus_03:
    case DW_LANG_C_plus_plus_11:
    case DW_LANG_C_plus_plus_14:
    case DW_LANG_ObjC_plus_plus:
    case DW_LANG_D:
    case DW_LANG_Rust:
        return true;
    default:
        return false;
    }
}

/* What addr2line -f -i -C names a function DIE: its linkage name demangled, else its name,
 * both followed through DW_AT_abstract_origin and DW_AT_specification. For the innermost
 * function of a language that mangles names, a DIE without a linkage name (a C++ static
 * function) is named by the symbol table instead, as binutils does. */
static const char *die_function_name(Dwarf_Die *cu, Dwarf_Die *die, bool innermost,
                                     Dwfl_Module *module, uintptr_t address)
{
    const char *name = linkage_name(die);
    if (name != NULL)
        return readable(name);
    if (innermost && mangles_names(cu)) {
        name = symbol_name(module, address);
        if (name != NULL)
            return name;
    }
    Dwarf_Attribute attribute;
    if (dwarf_attr_integrate(die, DW_AT_name, &attribute) != NULL)
        name = dwarf_formstring(&attribute);
    return name;
}

/* A source path as addr2line prints it: a relative one joined to the unit's directory. */
static const char *source_path(Dwarf_Die *cu, const char *name)
{
    if (name == NULL || name[0] == '\0')
        return "";
    Dwarf_Attribute attribute;
    const char *directory = NULL;
    if (name[0] != '/' && dwarf_attr(cu, DW_AT_comp_dir, &attribute) != NULL)
        directory = dwarf_formstring(&attribute);
    if (directory == NULL || directory[0] == '\0')
        return name;
    char *joined = NULL;
    if (asprintf(&joined, "%s/%s", directory, name) < 0)
        return name;
    return keep(joined);
}

static bool is_function(int tag)
{
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine
           || tag == DW_TAG_entry_point;
}

/* Deeper than any real nesting of DIEs: a bound on the search below. */
#define MAX_DIE_DEPTH 64

/* The innermost function DIE (or inlined instance) under parent whose code holds pc, into
 * found, searched through every child: a function defined inside another (a lambda, a member
 * function of a local class, a GCC nested function) lies inside that one's DIE but outside
 * its code, where dwarf_getscopes, which looks into a DIE only where its code holds the
 * address, does not go. */
static bool find_function_holding(Dwarf_Die *parent, Dwarf_Addr pc, Dwarf_Die *found,
                                  unsigned depth)
{
    Dwarf_Die child;
    if (depth > MAX_DIE_DEPTH || dwarf_child(parent, &child) != 0)
        return false;
    do {
        if (is_function(dwarf_tag(&child)) && dwarf_haspc(&child, pc) == 1) {
            *found = child;
            find_function_holding(&child, pc, found, depth + 1); /* an inlined call inside */
            return true;
        }
        if (find_function_holding(&child, pc, found, depth + 1))
            return true;
    } while (dwarf_siblingof(&child, &child) == 0);
    return false;
}

static bool holds_a_function(Dwarf_Die *chain, int count)
{
    for (int i = 0; i < count; i++)
        if (is_function(dwarf_tag(&chain[i])))
            return true;
    return false;
}

/* Frames from DWARF: the concrete chain of scopes around the address (dwarf_getscopes
 * alone would follow an inlined instance into its abstract origin and give the wrong
 * callers); the innermost line from the line table, each outer one from the inlined DIE's
 * DW_AT_call_file and DW_AT_call_line. Returns 0 when the module has no DWARF there. */
static size_t describe_from_dwarf(Dwfl_Module *module, uintptr_t address, const char *module_path,
                                  struct source_frame *frames, size_t max)
{
    Dwarf_Addr bias;
    Dwarf_Die *cu = dwfl_module_addrdie(module, address, &bias);
    if (cu == NULL)
        return 0;
    Dwarf_Die *scopes = NULL;
    int scope_count = dwarf_getscopes(cu, address - bias, &scopes);
    Dwarf_Die *chain = NULL;
    int chain_count = scope_count > 0 ? dwarf_getscopes_die(&scopes[0], &chain) : 0;
    free(scopes);
    Dwarf_Die innermost;
    if (!holds_a_function(chain, chain_count)
        && find_function_holding(cu, address - bias, &innermost, 0)) {
        free(chain);
        chain = NULL;
        chain_count = dwarf_getscopes_die(&innermost, &chain);
    }

    const char *file = "";
    int line = 0;
    Dwfl_Line *source = dwfl_module_getsrc(module, address);
    if (source != NULL)
        file = source_path(cu, dwfl_lineinfo(source, NULL, &line, NULL, NULL, NULL));
    Dwarf_Files *files = NULL;
    size_t file_count = 0;
    if (dwarf_getsrcfiles(cu, &files, &file_count) != 0)
        files = NULL;

    size_t count = 0;
    for (int i = 0; i < chain_count && count < max; i++) {
        int tag = dwarf_tag(&chain[i]);
        if (!is_function(tag))
            continue;
        const char *name = die_function_name(cu, &chain[i], count == 0, module, address);
        if (name == NULL)
            break; /* nameless: let the symbol table name it */
        frames[count++] = (struct source_frame){name, file, line, module_path};
        if (tag != DW_TAG_inlined_subroutine)
            break;
        Dwarf_Attribute attribute;
        Dwarf_Word value;
        file = "";
        line = 0;
        if (files != NULL && dwarf_attr(&chain[i], DW_AT_call_file, &attribute) != NULL
            && dwarf_formudata(&attribute, &value) == 0 && value < file_count)
            file = source_path(cu, dwarf_filesrc(files, value, NULL, NULL));
        if (dwarf_attr(&chain[i], DW_AT_call_line, &attribute) != NULL
            && dwarf_formudata(&attribute, &value) == 0)
            line = (int)value;
    }
    free(chain);
    return count;
}

static const char *module_offset_name(const char *module_path, Dwfl_Module *module,
                                      uintptr_t address)
{
    char text[4200];
    Dwarf_Addr bias = 0;
    if (module == NULL) {
        snprintf(text, sizeof text, "0x%llx", (unsigned long long)address);
    } else {
        if (dwfl_module_getelf(module, &bias) == NULL)
            bias = 0;
        snprintf(text, sizeof text, "%s+0x%llx", module_path,
                 (unsigned long long)(address - bias));
    }
    return keep_copy(text);
}

size_t module_symbols_describe(Dwfl_Module *module, uintptr_t address, bool symbols,
                               struct source_frame *frames, size_t max)
{
    /* Each freed one's pointer goes too: the tracer's data is a root of the leak scan, and a
     * block the program got from that memory since was reachable through it. */
    for (size_t i = 0; i < scratch_count; i++) {
        free(scratch[i]);
        scratch[i] = NULL;
    }
    scratch_count = 0;
    const char *module_path = "";
    if (module != NULL) {
        const char *name = dwfl_module_info(module, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        module_path = name != NULL ? name : "";
    }
    if (symbols && module != NULL) {
        size_t count = describe_from_dwarf(module, address, module_path, frames, max);
        if (count > 0)
            return count;
        const char *name = symbol_name(module, address);
        if (name != NULL) {
            frames[0] = (struct source_frame){name, "", 0, module_path};
            return 1;
        }
    }
    frames[0] = (struct source_frame){module_offset_name(module_path, module, address), "", 0,
                                      module_path};
    return 1;
}
