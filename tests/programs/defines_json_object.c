/* defines_json_object.c: a program with a function of its own named json_object, as
 * PostgreSQL has (its SQL function), built with -rdynamic so that it comes first in the
 * symbol lookup of every module, as PostgreSQL's does; leaks one block of 4321 bytes. */
#include <stdlib.h>

#include "common.h"

void *json_object(void *argument);

void *json_object(void *argument)
{
    say("the program's json_object was called with %p\n", argument);
    abort();
}

void *volatile leaked;

int main(void)
{
    leaked = malloc(4321);
    leaked = NULL;
    say("done\n");
    return 0;
}
