/* os.h: the few system services the tracer needs, none of which allocates through malloc. */
#ifndef MALLOC_TRACE_OS_H
#define MALLOC_TRACE_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Kernel thread id of the calling thread, cached per thread (gettid costs a syscall). */
pid_t os_thread_id(void);
/* After fork the child's only thread has a new id but inherits the parent's cache. */
void os_forget_thread_id(void);

uint64_t os_now_ms(void);

/* Zero-filled private memory straight from the kernel, or NULL. */
void *os_map(size_t size);
/* Reserves address space, inaccessible until os_commit makes part of it usable. Nothing
 * scans a reservation: valgrind's leak check reads every readable page of a process, and
 * took about 35 s over the stack table's 4 GiB when they were readable. */
void *os_reserve(size_t *size_in_out);
/* Makes reserved pages readable and writable (backed on first touch); false if refused. */
bool os_commit(void *address, size_t size);
void os_unmap(void *address, size_t size);

/* LeakSanitizer scans the data segments, stacks and thread-local storage for pointers, not
 * memory we mapped ourselves: a malloc'd block whose only pointer lives there (the rendered
 * JSON kept for each stack and each return address) would be reported as leaked in the
 * AddressSanitizer builds of make check-sanitize. These make a mapped range a root of its
 * scan, and do nothing in other builds. Never for the live table: it holds the program's
 * block addresses, and LeakSanitizer would then miss the program's leaks. */
void os_leak_root_add(const void *address, size_t size);
void os_leak_root_remove(const void *address, size_t size);

/* One line on stderr, prefixed with "malloc-trace: ", built in a stack buffer and written
 * with one write(2): safe from inside an allocation, never interleaved with other lines. */
void os_message(const char *format, ...) __attribute__((format(printf, 1, 2)));

#endif
