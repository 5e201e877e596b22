/* frame_registration.c: see frame_registration.h.
 *
 * A program linked with `gcc -static` has no .eh_frame_hdr, so libgcc's unwinder finds its
 * frames only through the registration crtbeginT.o makes at start, and crtbeginT.o takes it
 * back in its destructor (__do_global_dtors_aux), which runs before the tracer's: those run
 * last. A thread that throws, or calls pthread_exit (a forced unwind), while the exit pass
 * runs then finds no frame information and aborts the process: 20 runs in 20 of a program
 * whose two threads throw in a loop, 7 in 20 of one whose threads call pthread_exit, none
 * untraced, where the process ends right after. Registered again at the pass's start, 10
 * and 1 in 20 still did: reading the file to find the section took long enough. So the
 * section is registered a second time at start, under the tracer's object, which nothing
 * takes back: libgcc finds a frame in either (its search stops at the first). */
#include "frame_registration.h"

#include <stdint.h>

#include "unwind_table.h"

/* libgcc's: present wherever the program's unwinder is linked in (or libgcc_s is loaded). */
extern void __register_frame_info(const void *begin, void *object) __attribute__((weak));

void frame_registration_add_executable(void)
{
    uintptr_t start, end;
    if (__register_frame_info == NULL || !unwind_table_unindexed_executable_eh_frame(&start, &end))
        return;
    /* libgcc's struct object, which it fills and keeps: 6 words in GCC 12, room to spare. */
    static void *object[16];
    __register_frame_info((const void *)start, object); // NOLINT(performance-no-int-to-ptr)
}
