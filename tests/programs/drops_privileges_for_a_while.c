/* drops_privileges_for_a_while.c: a daemon that runs as nobody for a while and takes root
 * back (seteuid and back, as sshd's temporarily_use_uid), then closes every descriptor it
 * did not open, and leaks a block. The tracer gives a file of the process's own (%p) to the
 * ids it takes: it must give it back to root, or the file stayed nobody's, which root could no
 * longer open (every row after the close lost) and nobody could read. */
#include "common.h"

#include <stdlib.h>

static void *kept;

int main(void)
{
    if (seteuid(65534) != 0)
        return 98;
    say("EUID %d\n", (int)geteuid());
    if (seteuid(0) != 0)
        return 97;
    for (int fd = STDERR_FILENO + 1; fd < 1024; fd++)
        close(fd);
    void *block = malloc(123);
    expect("leak", block, 123, "malloc", "main");
    kept = hide(block);
    return 0;
}
