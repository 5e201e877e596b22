/* options.c: see options.h. */
#include "options.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void options_begin(void)
{
    optind = 1;
    opterr = 0;
}

/* Whether the option getopt_long refused (optopt) is a known one given without its value. */
static bool lacks_its_value(bool is_long, const char *short_options,
                            const struct option *long_options)
{
    if (optopt == 0 || optopt == ':' || optopt == '+')
        return false;
    if (!is_long) {
        const char *known = strchr(short_options, optopt);
        return known != NULL && known[1] == ':';
    }
    for (const struct option *known = long_options; known->name != NULL; known++)
        if (known->flag == NULL && known->val == optopt)
            return known->has_arg == required_argument;
    return false;
}

int options_refused(const char *command, char **argv, const char *short_options,
                    const struct option *long_options, const char *usage)
{
    /* getopt_long has stepped past the argument that held the option it refused. */
    const char *given = argv[optind - 1];
    bool is_long = strncmp(given, "--", 2) == 0;
    if (lacks_its_value(is_long, short_options, long_options))
        fprintf(stderr, "malloc-trace %s: option '%s' needs a value; %s", command, given,
                usage);
    else if (is_long || optopt == 0)
        fprintf(stderr, "malloc-trace %s: unknown option '%s'; %s", command, given, usage);
    else
        fprintf(stderr, "malloc-trace %s: unknown option '-%c'; %s", command, optopt, usage);
    return 2;
}

int options_help(const char *usage)
{
    fputs(usage, stdout);
    return 0;
}
