/* module_symbols.c: see module_symbols.h. */
#define _GNU_SOURCE
#include "module_symbols.h"

#include <dwarf.h>
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <libiberty/demangle.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "debug_file.h"

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

/* DIR/usr/lib/debug/.build-id/xx/rest.debug, DIR the sysroot ("" without one): libdwfl's
 * list of directories cannot name a sysroot with ':' in its path (it splits there). */
static void try_build_id_file(Dwfl_Module *module, int *fd, char **found)
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
    if (used <= 0 || (size_t)used + 8 >= sizeof path)
        return;
    snprintf(path + used, sizeof path - (size_t)used, ".debug");
    try_debug_file(path, fd, found);
    if (*fd < 0)
        return;
    /* The file's own build id must be the module's, as libdwfl's look-up checks. */
    Elf *elf = elf_begin(*fd, ELF_C_READ_MMAP, NULL);
    const void *file_id = NULL;
    ssize_t file_length = elf != NULL ? dwelf_elf_gnu_build_id(elf, &file_id) : -1;
    bool same = file_length == length && memcmp(file_id, build_id, (size_t)length) == 0;
    elf_end(elf);
    if (!same) {
        close(*fd);
        *fd = -1;
        free(*found);
        *found = NULL;
    }
}

/* Separate debug information: by build id under /usr/lib/debug/.build-id, then by the
 * module's .gnu_debuglink name next to it, in its .debug/ and under /usr/lib/debug, as gdb
 * looks; /usr/lib/debug under the sysroot when there is one. Never through debuginfod,
 * which would use the network from inside the program. */
static int find_debug_file(Dwfl_Module *module, void **user_data, const char *module_name,
                           Dwarf_Addr base, const char *file_name, const char *debuglink_file,
                           GElf_Word debuglink_crc, char **debuginfo_file_name)
{
    int fd = -1;
    /* The module's own file by its build id, opened here: libdwfl's look-up opens what it
     * finds itself, and what debug_file_inflated makes of the descriptor would go unused.
     * Not for the file that a module's DWARF names by .gnu_debugaltlink (dwz), asked for
     * once its DWARF is loaded (the test libdwfl's own look-up suggests): libdwfl finds that
     * one by the build id the link gives. */
    Dwarf_Addr dwarf_bias;
    dwfl_module_info(module, NULL, NULL, NULL, &dwarf_bias, NULL, NULL, NULL);
    if (dwarf_bias == (Dwarf_Addr)-1)
        try_build_id_file(module, &fd, debuginfo_file_name);
    if (fd < 0 && debug_sysroot[0] == '\0')
        fd = dwfl_build_id_find_debuginfo(module, user_data, module_name, base, file_name,
                                          debuglink_file, debuglink_crc, debuginfo_file_name);
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

int module_symbols_find_debuginfo(Dwfl_Module *module, void **user_data,
                                  const char *module_name, Dwarf_Addr base,
                                  const char *file_name, const char *debuglink_file,
                                  GElf_Word debuglink_crc, char **debuginfo_file_name)
{
    return debug_file_inflated(find_debug_file(module, user_data, module_name, base, file_name,
                                               debuglink_file, debuglink_crc,
                                               debuginfo_file_name));
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

/* A module's symbols by address, so that a look-up is a binary search: dwfl_module_addrinfo
 * reads the whole symbol table at each call (libLLVM's 44,000 symbols: 5 ms; ranlib, which
 * loads the LLVM gold plugin, took 7 s to name the plugin's stacks at its dlclose). It gives
 * the same answer as libdwfl: a sized symbol that holds the address, chosen among several
 * as libdwfl chooses, in libdwfl's order (globals, then locals where no global holds it).
 * Where a symbol without a size (an assembly label) could be the answer instead, libdwfl
 * itself is asked. */
struct indexed_symbol {
    uint64_t start;
    uint64_t size;
    uint64_t highest_end; /* of this symbol and the ones before it in the array */
    uint32_t table_index;
    int binding; /* higher is better, as libdwfl ranks them */
};

struct symbol_list {
    struct indexed_symbol *symbols; /* by start */
    size_t count;
};

struct symbol_index {
    struct symbol_list globals, locals;
    uint64_t *label_starts; /* of the symbols without a size, sorted */
    size_t label_count;
    uint64_t *absolute_labels; /* the same in no section (SHN_ABS): they name only their value */
    size_t absolute_count;
};

/* What a module whose symbol table cannot be read keeps, so that it is not read again. */
static struct symbol_index no_symbols;

static int binding_rank(const GElf_Sym *symbol)
{
    switch (GELF_ST_BIND(symbol->st_info)) {
    case STB_GLOBAL:
        return 3;
    case STB_WEAK:
        return 2;
    case STB_LOCAL:
        return 1;
    default:
        return 0;
    }
}

static int by_start(const void *a, const void *b)
{
    const struct indexed_symbol *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void release_index(struct symbol_index *index)
{
    if (index == NULL || index == &no_symbols)
        return;
    free(index->globals.symbols);
    free(index->locals.symbols);
    free(index->label_starts);
    free(index->absolute_labels);
    free(index);
}

/* Every symbol libdwfl's search would look at (named, defined, no section, file or TLS
 * symbol), sized ones into globals or locals, the starts of the others into labels. */
static struct symbol_index *build_index(Dwfl_Module *module)
{
    int count = dwfl_module_getsymtab(module);
    int first_global = dwfl_module_getsymtab_first_global(module);
    if (count <= 0 || first_global < 0)
        return &no_symbols;
    struct symbol_index *index = calloc(1, sizeof *index);
    struct indexed_symbol *globals = calloc((size_t)count, sizeof *globals);
    struct indexed_symbol *locals = calloc((size_t)count, sizeof *locals);
    uint64_t *labels = calloc((size_t)count, sizeof *labels);
    uint64_t *absolute = calloc((size_t)count, sizeof *absolute);
    if (index == NULL || globals == NULL || locals == NULL || labels == NULL || absolute == NULL) {
        free(index), free(globals), free(locals), free(labels), free(absolute);
        return NULL;
    }
    *index = (struct symbol_index){{globals, 0}, {locals, 0}, labels, 0, absolute, 0};
    /* libdwfl's order: only a dynamic symbol table from the program headers has no
     * locals before its globals (first_global 0). */
    int globals_from = first_global == 0 ? 1 : first_global;
    for (int i = 1; i < count; i++) {
        GElf_Sym symbol;
        GElf_Addr value;
        GElf_Word section;
        const char *name = dwfl_module_getsym_info(module, i, &symbol, &value, &section, NULL, NULL);
        int type = GELF_ST_TYPE(symbol.st_info);
        if (name == NULL || name[0] == '\0' || symbol.st_shndx == SHN_UNDEF || type == STT_SECTION
            || type == STT_FILE || type == STT_TLS)
            continue;
        if (symbol.st_size == 0) {
            if (section >= SHN_LORESERVE)
                absolute[index->absolute_count++] = value;
            else
                labels[index->label_count++] = value;
            continue;
        }
        struct symbol_list *list = i >= globals_from ? &index->globals : &index->locals;
        list->symbols[list->count++] =
            (struct indexed_symbol){value, symbol.st_size, 0, (uint32_t)i, binding_rank(&symbol)};
    }
    struct symbol_list *lists[] = {&index->globals, &index->locals};
    for (size_t l = 0; l < 2; l++) {
        struct symbol_list *list = lists[l];
        qsort(list->symbols, list->count, sizeof *list->symbols, by_start);
        uint64_t highest = 0;
        for (size_t i = 0; i < list->count; i++) {
            uint64_t end = list->symbols[i].start + list->symbols[i].size;
            highest = end > highest ? end : highest;
            list->symbols[i].highest_end = highest;
        }
    }
    qsort(labels, index->label_count, sizeof *labels, by_value);
    qsort(absolute, index->absolute_count, sizeof *absolute, by_value);
    return index;
}

/* How many entries of the sorted array start at or below address. */
static size_t count_at_or_below(const struct symbol_list *list, uint64_t address)
{
    size_t low = 0, high = list->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (list->symbols[middle].start <= address)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

#define MOST_HOLDERS 64

/* The symbol libdwfl picks among the list's symbols that hold address (NULL: none holds it);
 * *unsure when more hold it than are looked at. */
static const struct indexed_symbol *holder(const struct symbol_list *list, uint64_t address,
                                           bool *unsure)
{
    const struct indexed_symbol *holders[MOST_HOLDERS];
    size_t count = 0;
    for (size_t i = count_at_or_below(list, address); i > 0; i--) {
        const struct indexed_symbol *symbol = &list->symbols[i - 1];
        if (symbol->highest_end <= address)
            break; /* none before it reaches address */
        if (address - symbol->start < symbol->size) {
            if (count == MOST_HOLDERS) {
                *unsure = true;
                return NULL;
            }
            holders[count++] = symbol;
        }
    }
    /* libdwfl's choice (try_sym_value), made in the table's order. */
    const struct indexed_symbol *best = NULL;
    for (size_t n = 0; n < count; n++) {
        const struct indexed_symbol *next = NULL;
        for (size_t i = 0; i < count; i++)
            if (holders[i] != NULL && (next == NULL || holders[i]->table_index < next->table_index))
                next = holders[i];
        for (size_t i = 0; i < count; i++)
            if (holders[i] == next)
                holders[i] = NULL;
        /* Closer, or better bound; at the same start and binding, smaller. */
        if (best == NULL || best->start < next->start || best->binding < next->binding
            || (best->start == next->start && best->size > next->size
                && best->binding == next->binding))
            best = next;
    }
    return best;
}

/* The first of count sorted values at or above value. */
static size_t first_at_or_above(const uint64_t *values, size_t count, uint64_t value)
{
    size_t low = 0, high = count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (values[middle] < value)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

/* Whether a symbol without a size could be libdwfl's answer: one in a section that starts at
 * or below address, and not below the end of any sized global symbol that starts at or below
 * it; one in none that starts at address. */
static bool a_label_may_answer(const struct symbol_index *index, uint64_t address)
{
    size_t below = count_at_or_below(&index->globals, address);
    uint64_t lowest = below > 0 ? index->globals.symbols[below - 1].highest_end : 0;
    size_t label = first_at_or_above(index->label_starts, index->label_count, lowest);
    size_t absolute = first_at_or_above(index->absolute_labels, index->absolute_count, address);
    return (label < index->label_count && index->label_starts[label] <= address)
           || (absolute < index->absolute_count && index->absolute_labels[absolute] == address);
}

/* What the tracer keeps with a module, in its user data. */
struct module_record {
    struct symbol_index *index; /* NULL until the first look-up */
    uint64_t device;            /* of the file its mappings showed first, if file_known */
    uint64_t inode;
    bool file_known;
};

/* The module's record, made at the first call; NULL without memory. */
static struct module_record *record_of(Dwfl_Module *module)
{
    void **slot;
    dwfl_module_info(module, &slot, NULL, NULL, NULL, NULL, NULL, NULL);
    if (*slot == NULL)
        *slot = calloc(1, sizeof(struct module_record));
    return *slot;
}

bool module_symbols_same_file(Dwfl_Module *module, uint64_t device, uint64_t inode)
{
    struct module_record *record = record_of(module);
    if (record == NULL)
        return true; /* no memory to tell: as before records were kept */
    if (!record->file_known) {
        *record = (struct module_record){record->index, device, inode, true};
        return true;
    }
    return record->device == device && record->inode == inode;
}

const char *module_symbols_addrname(Dwfl_Module *module, uint64_t address)
{
    struct module_record *record = record_of(module);
    if (record != NULL && record->index == NULL)
        record->index = build_index(module);
    const struct symbol_index *index = record != NULL ? record->index : NULL;
    if (index == NULL) /* no memory for it */
        return dwfl_module_addrname(module, address);
    if (index == &no_symbols)
        return NULL;
    bool unsure = false;
    const struct indexed_symbol *found = holder(&index->globals, address, &unsure);
    if (found == NULL && !unsure && a_label_may_answer(index, address))
        unsure = true;
    if (found == NULL && !unsure)
        found = holder(&index->locals, address, &unsure);
    if (unsure)
        return dwfl_module_addrname(module, address);
    if (found == NULL)
        return NULL;
    return dwfl_module_getsym_info(module, (int)found->table_index, &(GElf_Sym){0},
                                   &(GElf_Addr){0}, NULL, NULL, NULL);
}

static int release_record(Dwfl_Module *module, void **user_data, const char *name,
                          Dwarf_Addr base, void *unused)
{
    (void)module, (void)name, (void)base, (void)unused;
    struct module_record *record = *user_data;
    if (record != NULL)
        release_index(record->index);
    free(record);
    *user_data = NULL;
    return DWARF_CB_OK;
}

int module_symbols_removed(Dwfl_Module *module, void *user_data, const char *name,
                           Dwarf_Addr base, void *unused)
{
    /* Declared void *, libdwfl passes the address of the module's user data, as to
     * dwfl_getmodules's callback. */
    return release_record(module, user_data, name, base, unused);
}

void module_symbols_forget(Dwfl *dwfl)
{
    dwfl_getmodules(dwfl, release_record, NULL, 0);
}

/* The symbol-table name of the function around address, bare of its version, readable. */
static const char *symbol_name(Dwfl_Module *module, uintptr_t address)
{
    const char *symbol = module_symbols_addrname(module, address);
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
