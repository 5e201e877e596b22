/* closed_standard_descriptors.c: `closed_standard_descriptors FILE`, started with stdin,
 * stdout and stderr closed. Opens FILE (the lowest free number: 0, as untraced), then writes
 * into it that number and what writing to stderr gave: none of the tracer's descriptors may
 * have taken a standard number. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    free(malloc(10));
    int own = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (own < 0)
        return 3;
    ssize_t to_stderr = write(STDERR_FILENO, "to stderr\n", 10);
    int error = errno;
    char line[128];
    int length = snprintf(line, sizeof line, "own %d, stderr %zd %d\n", own, to_stderr, error);
    return write(own, line, (size_t)length) == length ? 0 : 4;
}
