// deferred_delete_user.cpp: objects and arrays deleted through libstdc++'s sized and array
// operators, which call the program's operator delete (deferred_delete.cpp), which keeps
// them; then it frees them all. Nothing leaks and nothing is freed twice: no row. The
// tracer took each block out at the delete: the later free was an orphan free row.
#include "common.h"

void release_kept();

int main()
{
    for (int i = 0; i < 20; i++) {
        long *value = new long(i);
        delete value;
        int *values = new int[3];
        delete[] values;
    }
    release_kept();
    say("released\n");
    return 0;
}
