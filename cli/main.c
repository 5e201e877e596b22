/* main.c: the malloc-trace command: run, report, check (CONTRACT section 6). It reads traces
 * and never links the tracer's core. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "report.h"
#include "run.h"
#include "symbolize.h"

static const char usage[] =
    "usage: malloc-trace run [-o FILE] [-p SECONDS] [--fail-on-leak] -- PROGRAM [ARGS...]\n"
    "       malloc-trace report [--top N] [--format text|json|folded|svg] FILE...\n"
    "       malloc-trace check FILE... [--suppressions FILE] [--max-leaked-bytes N]\n"
    "                          [--fail-on-free] [--junit FILE]\n"
    "       malloc-trace symbolize [--sysroot DIR] FILE... -o OUT\n";

/* jansson's parser does not survive an allocation that fails (a segmentation fault in
 * json_loads, on a callstack of 100 MB under a limit on memory): the command ends first. */
static void *json_allocate(size_t size)
{
    void *memory = malloc(size);
    if (memory == NULL) {
        fputs("malloc-trace: out of memory\n", stderr);
        exit(2);
    }
    return memory;
}

int main(int argc, char **argv)
{
    json_set_alloc_funcs(json_allocate, free);
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *command = argv[1];
    if (strcmp(command, "run") == 0)
        return run_command(argc - 1, argv + 1);
    if (strcmp(command, "report") == 0)
        return report_command(argc - 1, argv + 1);
    if (strcmp(command, "check") == 0)
        return check_command(argc - 1, argv + 1);
    if (strcmp(command, "symbolize") == 0)
        return symbolize_command(argc - 1, argv + 1);
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    fprintf(stderr, "malloc-trace: unknown command '%s'\n%s", command, usage);
    return 2;
}
