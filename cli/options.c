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

/* The long option named by given ("--name" or "--name=value", or a unique abbreviation of
 * the name, as getopt_long takes it). */
static const struct option *long_option_named(const char *given,
                                              const struct option *long_options)
{
    if (strncmp(given, "--", 2) != 0)
        return NULL;
    size_t length = strcspn(given + 2, "=");
    for (const struct option *known = long_options; known->name != NULL; known++)
        if (length > 0 && strncmp(known->name, given + 2, length) == 0)
            return known;
    return NULL;
}

int options_refused(const char *command, char **argv, const char *short_options,
                    const struct option *long_options, const char *usage)
{
    /* An unknown long option leaves optopt 0; getopt_long has then stepped past it. One
     * refused for its missing value leaves its letter in optopt, and is the argument just
     * stepped past. A refused letter of a cluster ("-xy") leaves optopt too, but optind
     * still on the argument before the cluster until the cluster ends: named by its letter. */
    const char *given = argv[optind - 1];
    const struct option *named = long_option_named(given, long_options);
    if (optopt == 0) {
        fprintf(stderr, "malloc-trace %s: unknown option '%s'; %s", command, given, usage);
    } else if (named != NULL && named->flag == NULL && named->val == optopt
               && named->has_arg == required_argument) {
        fprintf(stderr, "malloc-trace %s: option '--%s' needs a value; %s", command,
                named->name, usage);
    } else if (named != NULL && named->flag == NULL && named->val == optopt
               && named->has_arg == no_argument && strchr(given, '=') != NULL) {
        /* "--fail-on-leak=1": named by its letter, it was an option that does not exist. */
        fprintf(stderr, "malloc-trace %s: option '--%s' takes no value; %s", command,
                named->name, usage);
    } else {
        const char *known = strchr(short_options, optopt);
        bool needs_a_value = known != NULL && optopt != ':' && optopt != '+' && known[1] == ':';
        fprintf(stderr, "malloc-trace %s: %s '-%c'%s; %s", command,
                needs_a_value ? "option" : "unknown option", optopt,
                needs_a_value ? " needs a value" : "", usage);
    }
    return 2;
}

int options_help(const char *usage)
{
    fputs(usage, stdout);
    return 0;
}
