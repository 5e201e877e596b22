/* printf_only.c: a program that only prints through stdio and exits. libc keeps the stdout
 * buffer (and its locale data) to the end: reachable from libc's data, never a leak. */
#include <stdio.h>

int main(int argc, char **argv)
{
    printf("%s has %d argument(s)\n", argv[0], argc - 1);
    fprintf(stderr, "to stderr too\n");
    puts("done");
    return 0;
}
