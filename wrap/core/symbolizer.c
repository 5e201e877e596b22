/* symbolizer.c: elfutils' libdwfl over the modules of /proc/self/maps, names from the
 * symbol tables, demangled by libiberty; results cached per address. */
#define _GNU_SOURCE
#include "symbolizer.h"

#include <elfutils/libdwfl.h>
#include <libiberty/demangle.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "os.h"

struct cached_name {
    uintptr_t return_address; /* 0: empty slot */
    struct frame_name name;
};

struct name_cache {
    struct cached_name *slots;
    size_t capacity;
    size_t count;
};

/* One cache per setting of `symbols` would be waste: the setting is fixed for a run. */
static struct name_cache cache;
static Dwfl *session;
static bool reread_allowed = true;

/* Debug information in separate files is found by build id only; never through
 * debuginfod, which would use the network from inside the traced program. */
static int find_no_debuginfo(Dwfl_Module *module, void **user_data, const char *module_name,
                             Dwarf_Addr base, const char *file_name,
                             const char *debuglink_file, GElf_Word debuglink_crc,
                             char **debuginfo_file_name)
{
    (void)module, (void)user_data, (void)module_name, (void)base, (void)file_name;
    (void)debuglink_file, (void)debuglink_crc, (void)debuginfo_file_name;
    return -1;
}

static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = find_no_debuginfo,
};

static bool read_modules(void)
{
    if (session == NULL) {
        session = dwfl_begin(&callbacks);
        if (session == NULL)
            return false;
    }
    dwfl_report_begin(session);
    int failed = dwfl_linux_proc_report(session, getpid());
    dwfl_report_end(session, NULL, NULL);
    return failed == 0;
}

void symbolizer_new_batch(void)
{
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

static char *copy_string(const char *text)
{
    size_t length = strlen(text) + 1;
    char *copy = malloc(length);
    if (copy != NULL)
        memcpy(copy, text, length);
    return copy;
}

static char *function_name(Dwfl_Module *module, uintptr_t address, bool symbols)
{
    const char *module_path = "";
    Dwarf_Addr bias = 0;
    if (module != NULL) {
        module_path = dwfl_module_info(module, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        if (module_path == NULL)
            module_path = "";
        if (dwfl_module_getelf(module, &bias) == NULL)
            bias = 0;
    }
    if (symbols && module != NULL) {
        const char *symbol = dwfl_module_addrname(module, address);
        if (symbol != NULL && symbol[0] != '\0') {
            /* Versioned names (__libc_start_main@@GLIBC_2.34): addr2line prints the bare
             * name. */
            char bare[1024];
            snprintf(bare, sizeof bare, "%.*s", (int)strcspn(symbol, "@"), symbol);
            char *demangled = bare[0] == '_' && bare[1] == 'Z'
                                  ? cplus_demangle_v3(bare, DMGL_PARAMS | DMGL_ANSI)
                                  : NULL;
            if (demangled != NULL)
                return demangled;
            return copy_string(bare);
        }
    }
    char text[4200];
    if (module != NULL)
        snprintf(text, sizeof text, "%s+0x%llx", module_path,
                 (unsigned long long)(address - bias));
    else
        snprintf(text, sizeof text, "0x%llx", (unsigned long long)address);
    return copy_string(text);
}

static void describe(uintptr_t return_address, bool symbols, struct frame_name *out)
{
    /* The call instruction ends at the return address: look up the byte before it, which
     * is inside the call even when the call is the last instruction of its function. */
    uintptr_t address = return_address - 1;
    Dwfl_Module *module = module_at(address);
    const char *module_path = NULL;
    if (module != NULL)
        module_path = dwfl_module_info(module, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    char *function = function_name(module, address, symbols);
    char *module_copy = copy_string(module_path != NULL ? module_path : "");
    out->function = function != NULL ? function : "";
    out->module = module_copy != NULL ? module_copy : "";
}

static size_t slot_of(uintptr_t key, size_t capacity)
{
    return (size_t)(((uint64_t)key * 0x9e3779b97f4a7c15ull) >> 20) & (capacity - 1);
}

static bool cache_grow(void)
{
    size_t capacity = cache.capacity ? cache.capacity * 2 : 4096;
    struct cached_name *slots = os_map(capacity * sizeof *slots);
    if (slots == NULL)
        return false;
    for (size_t i = 0; i < cache.capacity; i++) {
        if (cache.slots[i].return_address == 0)
            continue;
        size_t slot = slot_of(cache.slots[i].return_address, capacity);
        while (slots[slot].return_address != 0)
            slot = (slot + 1) & (capacity - 1);
        slots[slot] = cache.slots[i];
    }
    os_unmap(cache.slots, cache.capacity * sizeof *cache.slots);
    cache.slots = slots;
    cache.capacity = capacity;
    return true;
}

void symbolizer_name(uintptr_t return_address, bool symbols, struct frame_name *out)
{
    if ((cache.count + 1) * 2 > cache.capacity && !cache_grow()) {
        describe(return_address, symbols, out); /* uncached, still correct */
        return;
    }
    size_t slot = slot_of(return_address, cache.capacity);
    while (cache.slots[slot].return_address != 0) {
        if (cache.slots[slot].return_address == return_address) {
            *out = cache.slots[slot].name;
            return;
        }
        slot = (slot + 1) & (cache.capacity - 1);
    }
    describe(return_address, symbols, out);
    cache.slots[slot].return_address = return_address;
    cache.slots[slot].name = *out;
    cache.count++;
}
