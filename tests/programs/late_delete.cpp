// late_delete.cpp: an object and an array written as `malloc` rows at a periodic flush (a
// period of 1 s), deleted after it: each late free's row names the delete the program called,
// in every form. In a -static link (libstdc++'s operators inside the executable, its delete
// jumping to free) the rows said `free`, with no operator frame.
#include "common.h"

#include <unistd.h>

int main()
{
    long *value = new long(1);
    int *values = new int[3];
    usleep(2500000);
    delete value;
    delete[] values;
    say("deleted\n");
    return 0;
}
