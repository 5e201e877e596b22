/* options.h: what the subcommands share in reading their options with getopt_long. */
#ifndef MALLOC_TRACE_CLI_OPTIONS_H
#define MALLOC_TRACE_CLI_OPTIONS_H

#include <getopt.h>

/* The value getopt_long returns for -h and --help, which every subcommand takes. */
#define OPTION_HELP 'h'
#define OPTION_HELP_LONG {"help", no_argument, NULL, OPTION_HELP}

/* Call before the first getopt_long: the errors are options_refused's to say, in one line. */
void options_begin(void);

/* After getopt_long returned '?' for argv: says in one line which option is unknown or
 * lacks its value, and the usage; returns 2, the command's exit status. */
int options_refused(const char *command, char **argv, const char *short_options,
                    const struct option *long_options, const char *usage);

/* For OPTION_HELP: the usage on stdout; returns 0. */
int options_help(const char *usage);

#endif
