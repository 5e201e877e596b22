/* test_module_symbols.c: module_symbols_addrname's index gives the names libdwfl's own
 * dwfl_module_addrname gives, address for address: at each symbol's start, inside, at its
 * end, just before and after it, and on a sweep through each module's whole range. The
 * modules: this program (a full symbol table, locals first), and shared libraries with a
 * dynamic one only (libc, libdw, libstdc++: aliases, weak and versioned names, symbols
 * without a size), read offline as `malloc-trace symbolize` reads them.
 *
 * The core's constructor runs here too (the tracer starts its flusher thread): nothing below
 * depends on it. */
#define _GNU_SOURCE
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "module_symbols.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

/* Under valgrind (test_sanitizers.py), a twentieth of the places: libdwfl's look-ups, which read
 * the whole table, took past the runner's 2 minutes there. */
static unsigned long share = 1;

static char *debuginfo_path;
static const Dwfl_Callbacks offline_callbacks = {
    .find_debuginfo = module_symbols_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

static const char *shown(const char *name)
{
    return name != NULL ? name : "(none)";
}

static unsigned long compared, differed;

static void compare_at(Dwfl_Module *module, GElf_Addr address)
{
    const char *expected = dwfl_module_addrname(module, address);
    const char *found = module_symbols_addrname(module, address);
    compared++;
    if ((expected == NULL) != (found == NULL)
        || (expected != NULL && strcmp(expected, found) != 0)) {
        if (differed++ < 10)
            fprintf(stderr, "    at 0x%llx: libdwfl %s, index %s\n", (unsigned long long)address,
                    shown(expected), shown(found));
    }
}

/* Around each symbol (some 1,000 of them in a large table: libdwfl's look-up reads the whole
 * table), then every stride bytes of the module, 4,000 places. */
static void compare_module(const char *path, unsigned long at_least)
{
    Dwfl *dwfl = dwfl_begin(&offline_callbacks);
    if (!CHECK_TRUE(dwfl != NULL))
        return;
    dwfl_report_begin(dwfl);
    Dwfl_Module *module = dwfl_report_offline(dwfl, path, path, -1);
    dwfl_report_end(dwfl, NULL, NULL);
    if (!CHECK_TRUE(module != NULL)) {
        dwfl_end(dwfl);
        return;
    }
    unsigned long before = compared, differed_before = differed;
    int count = dwfl_module_getsymtab(module);
    CHECK_GE_U64((uint64_t)(count > 0 ? count : 0), 10);
    int step = count / (int)(1000 / share) + 1;
    for (int i = 1; i < count; i += step) {
        GElf_Sym symbol;
        GElf_Addr value;
        if (dwfl_module_getsym_info(module, i, &symbol, &value, NULL, NULL, NULL) == NULL)
            continue;
        GElf_Addr points[] = {value - 1, value, value + symbol.st_size / 2,
                              value + symbol.st_size - 1, value + symbol.st_size,
                              value + symbol.st_size + 1};
        for (size_t p = 0; p < sizeof points / sizeof points[0]; p++)
            compare_at(module, points[p]);
    }
    Dwarf_Addr low, high;
    dwfl_module_info(module, NULL, &low, &high, NULL, NULL, NULL, NULL);
    GElf_Addr stride = (high - low) / (4000 / share) + 1;
    for (GElf_Addr address = low; address < high; address += stride)
        compare_at(module, address);
    fprintf(stderr, "    %s: %d symbols, %lu addresses, %lu differ\n", path, count,
            compared - before, differed - differed_before);
    CHECK_GE_U64(compared - before, at_least / share);
    module_symbols_forget(dwfl);
    dwfl_end(dwfl);
}

static void test_the_same_names_as_libdwfl(void)
{
    char self[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (CHECK_TRUE(length > 0)) {
        self[length] = '\0';
        compare_module(self, 6000);
    }
    const char *libraries[] = {"/lib/x86_64-linux-gnu/libc.so.6",
                               "/lib/x86_64-linux-gnu/libdw.so.1",
                               "/lib/x86_64-linux-gnu/libstdc++.so.6"};
    for (size_t i = 0; i < sizeof libraries / sizeof libraries[0]; i++)
        if (access(libraries[i], R_OK) == 0)
            compare_module(libraries[i], 6000);
    CHECK_EQ_U64(differed, 0);
}

int main(void)
{
    share = RUNNING_ON_VALGRIND ? 20 : 1;
    alarm(120);
    RUN_TEST(test_the_same_names_as_libdwfl);
    return check_exit_status();
}
