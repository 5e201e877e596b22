/* process_mark.c: see process_mark.h. */
#define _GNU_SOURCE
#include "process_mark.h"

#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include <unistd.h>

#include "os.h"

/* Before the page is made, and where the kernel cannot empty it: always set. */
static _Atomic unsigned char set_without_page = 1;
_Atomic unsigned char *process_mark = &set_without_page;

void process_mark_set(void)
{
    if (process_mark == &set_without_page) {
        size_t page_size = (size_t)sysconf(_SC_PAGESIZE);
        _Atomic unsigned char *page = os_map(page_size);
        if (page == NULL)
            return;
        int saved_errno = errno;
        if (madvise((void *)page, page_size, MADV_WIPEONFORK) != 0) {
            errno = saved_errno;
            os_unmap((void *)page, page_size);
            return;
        }
        process_mark = page;
    }
    atomic_store(process_mark, 1);
}
