/* symbolize.c: see symbolize.h. Modules are read from disk with libdwfl's offline
 * reporting; each is named by the same code as in the tracer (wrap/core/module_symbols.c),
 * so a row symbolized here reads as if the tracer had named it. */
#define _GNU_SOURCE
#include "symbolize.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <gelf.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json_text.h"
#include "../wrap/core/module_symbols.h"
#include "options.h"
#include "trace_reader.h"

struct loaded_module {
    char *path; /* as the trace names it: the key */
    Dwfl_Module *module;
};

struct rewritten_stack {
    char *original; /* the key */
    char *text;
};

struct symbolizer_state {
    Dwfl *dwfl;
    const char *sysroot;
    void *modules; /* tsearch tree of struct loaded_module */
    void *stacks;  /* tsearch tree of struct rewritten_stack */
    FILE *out;
    bool write_failed;
};

static char *debuginfo_path;
static const Dwfl_Callbacks offline_callbacks = {
    .find_debuginfo = module_symbols_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

static int compare_modules(const void *left, const void *right)
{
    return strcmp(((const struct loaded_module *)left)->path,
                  ((const struct loaded_module *)right)->path);
}

static int compare_stacks(const void *left, const void *right)
{
    return strcmp(((const struct rewritten_stack *)left)->original,
                  ((const struct rewritten_stack *)right)->original);
}

/* Whether the module's section and program headers lie within its size bytes: libdwfl takes
 * a file cut short, and then names none of its frames. */
static bool headers_fit(Dwfl_Module *module, uint64_t size)
{
    Dwarf_Addr bias;
    Elf *elf = dwfl_module_getelf(module, &bias);
    GElf_Ehdr header;
    if (elf == NULL || gelf_getehdr(elf, &header) == NULL)
        return false;
    return header.e_shoff + (uint64_t)header.e_shnum * header.e_shentsize <= size
           && header.e_phoff + (uint64_t)header.e_phnum * header.e_phentsize <= size;
}

/* The tracer writes each byte of a path that is not UTF-8 as '?' (JSON holds UTF-8 only), so
 * a module in a directory named in Latin-1, say, is named in the trace by no file. Where
 * that name opens nothing, the one file whose name has a byte of 0x80 or more at each such
 * '?', and the trace's bytes elsewhere, is the module; -1 where there is none, or more than
 * one. */
static int open_unicode_replaced(const char *file)
{
    if (strchr(file, '?') == NULL)
        return -1;
    char pattern[2 * 8192];
    size_t used = 0;
    for (const char *c = file; *c && used + 2 < sizeof pattern; c++) {
        if (*c == '*' || *c == '[' || *c == '\\')
            pattern[used++] = '\\';
        pattern[used++] = *c;
    }
    pattern[used] = '\0';
    glob_t found;
    if (glob(pattern, GLOB_NOSORT, NULL, &found) != 0)
        return -1;
    const char *match = NULL;
    size_t matches = 0, length = strlen(file);
    for (size_t i = 0; i < found.gl_pathc; i++) {
        const char *candidate = found.gl_pathv[i];
        bool same = strlen(candidate) == length;
        for (size_t at = 0; same && at < length; at++)
            same = candidate[at] == file[at]
                   || (file[at] == '?' && (unsigned char)candidate[at] >= 0x80);
        if (same) {
            match = candidate;
            matches++;
        }
    }
    int fd = matches == 1 ? open(match, O_RDONLY | O_NONBLOCK | O_CLOEXEC) : -1;
    globfree(&found);
    return fd;
}

/* The module at path (under the sysroot), read once; NULL (said once) when it cannot be. */
static Dwfl_Module *module_named(struct symbolizer_state *state, const char *path)
{
    struct loaded_module key = {.path = (char *)path};
    struct loaded_module **found = tfind(&key, &state->modules, compare_modules);
    if (found != NULL)
        return (*found)->module;
    struct loaded_module *loaded = calloc(1, sizeof *loaded);
    if (loaded == NULL || (loaded->path = strdup(path)) == NULL)
        exit(2);
    char file[8192];
    snprintf(file, sizeof file, "%s%s", state->sysroot != NULL ? state->sysroot : "", path);
    /* Opened here, not by libdwfl: its open of a FIFO named in a trace waited for a writer
     * for ever. Without O_NONBLOCK, so would this one. libdwfl keeps the descriptor. */
    int fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fd = open_unicode_replaced(file);
        if (fd < 0)
            errno = ENOENT;
    }
    struct stat status;
    const char *reason = fd < 0                     ? strerror(errno)
                         : fstat(fd, &status) != 0 ? strerror(errno)
                         : !S_ISREG(status.st_mode) ? "not a regular file"
                                                    : NULL;
    if (reason == NULL) {
        dwfl_report_begin_add(state->dwfl);
        loaded->module = dwfl_report_offline(state->dwfl, path, file, fd);
        dwfl_report_end(state->dwfl, NULL, NULL);
        if (loaded->module == NULL)
            reason = dwfl_errmsg(-1);
        else if (!headers_fit(loaded->module, (uint64_t)status.st_size)) {
            reason = "the file is cut short (its headers lie past its end)";
            loaded->module = NULL; /* its frames stay as they are, as for a file not read */
        }
    } else if (fd >= 0) {
        close(fd);
    }
    if (reason != NULL)
        fprintf(stderr, "malloc-trace symbolize: cannot read %s: %s\n", file, reason);
    tsearch(loaded, &state->modules, compare_modules);
    return loaded->module;
}

/* A frame MODULE+0xOFFSET (MODULE its "m"), expanded into its named frames. */
static bool expand_frame(struct symbolizer_state *state, json_t *frame, json_t *into)
{
    const char *function = json_string_value(json_object_get(frame, "f"));
    const char *module_path = json_string_value(json_object_get(frame, "m"));
    size_t prefix = module_path != NULL ? strlen(module_path) : 0;
    if (function == NULL || prefix == 0 || strncmp(function, module_path, prefix) != 0
        || strncmp(function + prefix, "+0x", 3) != 0)
        return false;
    char *end;
    errno = 0;
    uint64_t offset = strtoull(function + prefix + 3, &end, 16);
    if (*end != '\0' || errno != 0)
        return false;
    Dwfl_Module *module = module_named(state, module_path);
    if (module == NULL)
        return false;
    Dwarf_Addr bias = 0;
    if (dwfl_module_getelf(module, &bias) == NULL)
        return false;
    struct source_frame frames[MAX_INLINED_FRAMES];
    size_t count = module_symbols_describe(module, (uintptr_t)(offset + bias), true, frames,
                                           MAX_INLINED_FRAMES);
    for (size_t i = 0; i < count; i++)
        json_array_append_new(into, json_pack("{s:s, s:s, s:i, s:s}", "f", frames[i].function,
                                              "s", frames[i].file, "l", frames[i].line, "m",
                                              module_path));
    return true;
}

static char *rewrite(struct symbolizer_state *state, const struct trace_row *row)
{
    json_t *frames = trace_reader_parse_stack(row);
    if (frames == NULL)
        return NULL;
    json_t *named = json_array();
    size_t index;
    json_t *frame;
    json_array_foreach(frames, index, frame) {
        if (index == 0 || !expand_frame(state, frame, named))
            json_array_append(named, frame);
    }
    char *dumped = json_dumps(named, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *text = dumped != NULL ? json_text_for_csv(dumped) : NULL;
    free(dumped);
    json_decref(named);
    json_decref(frames);
    return text;
}

static void visit_row(const struct trace_row *row, void *context)
{
    struct symbolizer_state *state = context;
    struct rewritten_stack key = {.original = (char *)row->callstack};
    struct rewritten_stack **found = tfind(&key, &state->stacks, compare_stacks);
    const char *text;
    if (found != NULL) {
        text = (*found)->text;
    } else {
        char *rewritten = rewrite(state, row);
        if (rewritten == NULL)
            return;
        struct rewritten_stack *entry = calloc(1, sizeof *entry);
        if (entry == NULL || (entry->original = strdup(row->callstack)) == NULL)
            exit(2);
        entry->text = rewritten;
        tsearch(entry, &state->stacks, compare_stacks);
        text = rewritten;
    }
    static const char *const kinds[] = {"malloc", "free", "leak", "indirect", "reachable"};
    if (fprintf(state->out, "%s;%ld;0x%" PRIx64 ";%" PRIu64 ";%" PRIu64 ";%s\n",
                kinds[row->kind], row->thread_id, row->address, row->size, row->timestamp_ms,
                text) < 0)
        state->write_failed = true;
}

static void free_module(void *node)
{
    struct loaded_module *loaded = node;
    free(loaded->path);
    free(loaded); /* its Dwfl_Module belongs to the Dwfl: dwfl_end frees it */
}

static void free_stack(void *node)
{
    struct rewritten_stack *entry = node;
    free(entry->original);
    free(entry->text);
    free(entry);
}

static const char usage[] = "usage: malloc-trace symbolize [--sysroot DIR] FILE... -o OUT\n";

int symbolize_command(int argc, char **argv)
{
    static const struct option options[] = {{"sysroot", required_argument, NULL, 's'},
                                            {"output", required_argument, NULL, 'o'},
                                            OPTION_HELP_LONG,
                                            {NULL, 0, NULL, 0}};
    static const char short_options[] = "o:h";
    struct symbolizer_state state = {0};
    const char *output = NULL;
    int option;
    options_begin();
    while ((option = getopt_long(argc, argv, short_options, options, NULL)) != -1) {
        switch (option) {
        case 's':
            state.sysroot = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case OPTION_HELP:
            return options_help(usage);
        default:
            return options_refused("symbolize", argv, short_options, options, usage);
        }
    }
    if (optind >= argc || output == NULL) {
        fputs(usage, stderr);
        return 2;
    }
    struct stat out_status;
    bool out_exists = stat(output, &out_status) == 0;
    for (int i = optind; i < argc; i++) {
        struct stat in_status;
        if (stat(argv[i], &in_status) != 0) {
            fprintf(stderr, "malloc-trace: %s: %s\n", argv[i], strerror(errno));
            return 2;
        }
        if (out_exists && in_status.st_dev == out_status.st_dev
            && in_status.st_ino == out_status.st_ino) {
            fprintf(stderr, "malloc-trace symbolize: %s: the output would overwrite an input\n",
                    output);
            return 2;
        }
    }
    char sysroot[PATH_MAX];
    if (state.sysroot != NULL) {
        /* Absolute: the module's directory is matched against it (module_symbols.c). */
        struct stat root_status;
        if (realpath(state.sysroot, sysroot) == NULL || stat(sysroot, &root_status) != 0) {
            fprintf(stderr, "malloc-trace symbolize: %s: %s\n", state.sysroot, strerror(errno));
            return 2;
        }
        if (!S_ISDIR(root_status.st_mode)) {
            fprintf(stderr, "malloc-trace symbolize: %s: %s\n", state.sysroot,
                    strerror(ENOTDIR));
            return 2;
        }
        state.sysroot = sysroot;
        module_symbols_set_sysroot(sysroot);
    }
    state.out = fopen(output, "w");
    if (state.out == NULL) {
        fprintf(stderr, "malloc-trace symbolize: %s: %s\n", output, strerror(errno));
        return 2;
    }
    state.dwfl = dwfl_begin(&offline_callbacks);
    if (state.dwfl == NULL) {
        fprintf(stderr, "malloc-trace symbolize: %s\n", dwfl_errmsg(-1));
        fclose(state.out);
        return 2;
    }
    fputs("function;thread_id;address;size;timestamp_ms;callstack\n", state.out);
    bool stop_now;
    int status = trace_read_files(argv + optind, argc - optind, visit_row, &state, &stop_now);
    if (fclose(state.out) != 0 || state.write_failed) {
        fprintf(stderr, "malloc-trace symbolize: cannot write %s\n", output);
        status = 2;
    }
    /* A trace with its damaged lines left out (or cut short by a full disk) must not pass for
     * the symbolized input: no output rather than part of one. Only a regular file: OUT may
     * be /dev/stdout. */
    struct stat written;
    if (status != 0 && stat(output, &written) == 0 && S_ISREG(written.st_mode)
        && unlink(output) == 0)
        fprintf(stderr, "malloc-trace symbolize: %s removed: the input could not be read whole\n",
                output);
    tdestroy(state.stacks, free_stack);
    tdestroy(state.modules, free_module);
    module_symbols_forget(state.dwfl);
    dwfl_end(state.dwfl);
    return status;
}
