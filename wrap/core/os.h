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

/* Milliseconds since the Unix epoch, as of the kernel's last timer tick: the coarse clock is
 * read from the vDSO in 3 ns where the exact one takes 26 ns on a kvm-clock virtual machine
 * (a tenth of the tracer's cost per malloc+free). It lags by less than a tick (1 to 4 ms,
 * clock_getres of CLOCK_REALTIME_COARSE) and is never ahead. That is as exact as the
 * timestamp_ms column needs: it dates a block for a person reading a report and for the
 * age test of malloc_second_peremption, both in seconds; the kernel stamps file times with
 * the same clock, and heaptrack's times come from a 10 ms timer. */
uint64_t os_now_ms(void);

/* Zero-filled private memory straight from the kernel, or NULL. */
void *os_map(size_t size);
/* The same with every page backed at once, for memory about to be written all over (the
 * live table's slots when it grows): one fault per 4 KiB page is dear on a virtual machine,
 * and backing them in the mmap halved the system time of a traced python3 holding a million
 * blocks, and cut its run by a sixth. */
void *os_map_populated(size_t size);
/* Whether size bytes of private memory could be mapped now: a writable mapping, never
 * touched, counts against a limit on address space (RLIMIT_AS) or data (RLIMIT_DATA) and,
 * under strict overcommit, against the commit limit, as libdw's own would. */
bool os_has_room_for(size_t size);
/* Memory for an array that outgrew old (old_bytes mapped, the first used_bytes in use): new
 * bytes from os_map, the used ones copied, old unmapped; NULL (old kept) when refused. */
void *os_map_grown(void *old, size_t old_bytes, size_t used_bytes, size_t bytes);
/* Reserves address space, inaccessible until os_commit makes part of it usable. Nothing
 * scans a reservation: valgrind's leak check reads every readable page of a process, and
 * took about 35 s over the stack table's 4 GiB when they were readable. */
void *os_reserve(size_t *size_in_out);
/* The most a reservation takes under the limit on address space (SIZE_MAX: no limit), as
 * read first and at each os_read_address_space_limit: the tracer reads it again where the
 * program sets it, and the flusher every second. */
size_t os_reservation_share(void);
void os_read_address_space_limit(void);
/* A reservation of *size_in_out bytes at start, of which the first in_use are committed,
 * cut down to what os_reserve(wanted) would take under the limit on address space now
 * (never below in_use): *size_in_out becomes what is left. For a limit the program lowers
 * as it runs. */
void os_fit_reservation(void *start, size_t *size_in_out, size_t in_use, size_t wanted);
/* Makes reserved pages readable and writable (backed on first touch); false if refused. */
bool os_commit(void *address, size_t size);
/* The same with every page backed at once (see os_map_populated). */
bool os_commit_populated(void *address, size_t size);
/* Gives the whole pages of a committed range back to the kernel and makes them reserved
 * again (os_commit or os_commit_populated takes them back, zero-filled). */
void os_decommit(void *address, size_t size);
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
/* The same for a fixed text, with no buffer: for where the stack has little room (os_message
 * and vsnprintf take some 3 KiB of it). */
void os_message_text(const char *text);

/* What an errno value means, in English whatever the program's locale: strerror translates
 * through gettext, which for a locale of another charset loads a gconv module with dlopen,
 * taking the loader's lock, which the exit pass must not wait for (see flusher.c). */
const char *os_error_text(int error);

#endif
