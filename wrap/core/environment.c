/* environment.c: see environment.h. Only the tracer's constructor edits the environment,
 * while the program has not started (no thread of its own, no pointer into environ kept). */
#define _GNU_SOURCE
#include "environment.h"

#include <stddef.h>
#include <string.h>
#include <unistd.h>

/* The first entry of name from from on, or NULL. */
static char **entry_of(const char *name, size_t length, char **from)
{
    for (char **entry = from; entry != NULL && *entry != NULL; entry++)
        if (strncmp(*entry, name, length) == 0 && (*entry)[length] == '=')
            return entry;
    return NULL;
}

const char *environment_value(const char *name)
{
    size_t length = strlen(name);
    char **entry = entry_of(name, length, environ);
    return entry != NULL ? *entry + length + 1 : NULL;
}

/* As glibc's unsetenv: the entries after it move down, in the same array. */
void environment_remove(const char *name)
{
    size_t length = strlen(name);
    for (char **entry = entry_of(name, length, environ); entry != NULL;
         entry = entry_of(name, length, entry)) {
        char **after = entry;
        do
            after[0] = after[1];
        while (*after++ != NULL);
    }
}

void environment_replace(char *entry)
{
    char **found = entry_of(entry, strcspn(entry, "="), environ);
    if (found != NULL)
        *found = entry;
}
