/* environment.h: the process's environment, read and edited through environ itself. A
 * program may define getenv, setenv and unsetenv of its own, which its calls and the
 * tracer's would then reach: bash does, and its setenv and unsetenv change nothing before
 * its main has read the environment into its shell variables, so the tracer's constructor
 * left the settings of `malloc-trace run` to every program a bash script started. */
#ifndef MALLOC_TRACE_ENVIRONMENT_H
#define MALLOC_TRACE_ENVIRONMENT_H

/* The value of name, or NULL when it is not set. */
const char *environment_value(const char *name);

/* Takes every entry of name out of the environment. */
void environment_remove(const char *name);

/* Puts entry ("NAME=value", which must last as long as the process) in place of the first
 * entry of its name; nothing when the name is not set. */
void environment_replace(char *entry);

#endif
