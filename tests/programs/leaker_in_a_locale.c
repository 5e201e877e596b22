/* leaker_in_a_locale.c: takes its locale from the environment (setlocale(LC_ALL, "")),
 * prints what strerror(EFBIG) says in it (so that a test knows the locale translates), leaks
 * 10 blocks and returns 6. The tracer's own messages must stay in English, and must not load
 * the gconv module that translating into another charset loads (with dlopen: see
 * os_error_text). */
#include "common.h"

#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

static void *volatile kept;

int main(void)
{
    if (setlocale(LC_ALL, "") == NULL)
        return 1;
    say("%s\n", strerror(EFBIG));
    for (int i = 0; i < 10; i++)
        kept = forget(malloc(40));
    return 6;
}
