/* heap_roots.h: where the leak scan looks for pointers first: the writable data of every
 * loaded module, and each thread's stack, registers and thread-local storage. */
#ifndef MALLOC_TRACE_HEAP_ROOTS_H
#define MALLOC_TRACE_HEAP_ROOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapped_array.h"
#include "memory_map.h"

struct address_range {
    uintptr_t start;
    uintptr_t end;
};

struct range_list {
    struct address_range *ranges;
    size_t count;
    struct mapped_array storage; /* zero-filled before first use */
};

/* False when the kernel refuses memory. */
bool range_list_add(struct range_list *list, uintptr_t start, uintptr_t end);
void range_list_release(struct range_list *list);

/* The modules heap_roots_add_modules saw (each by where its dynamic section lies, a range of
 * one byte), and where the loader keeps its list of modules for debuggers (0: it does not
 * say, as in a static program). Released with range_list_release. */
struct modules_seen {
    struct range_list dynamic_sections;
    uintptr_t loader_debug; /* the loader's struct r_debug, from the executable's DT_DEBUG */
};

/* At start, before the program runs: asks the loader what it will not ask later (a dlsym
 * that succeeds frees the error state of a failed one of the program's, glibc's dlerror
 * buffer: freed inside the tracer, that block stayed in the table, and was written as a
 * leak). */
void heap_roots_init(void);

/* The writable segments of every loaded module into roots, the C library's also into
 * libc_data. Takes the loader's lock (dl_iterate_phdr): call it before stopping threads. */
bool heap_roots_add_modules(struct range_list *roots, struct range_list *libc_data,
                            struct modules_seen *seen);

/* With the other threads stopped: the writable segments of the modules loaded since
 * heap_roots_add_modules into roots, read from the loader's list for debuggers, without its
 * lock (which a stopped thread may hold). The scan may ask the loader only before it takes
 * a lock that a thread in the loader may wait for (see flusher.c); a library loaded in
 * between holds the program's pointers all the same. */
bool heap_roots_add_new_modules(struct range_list *roots, const struct modules_seen *seen,
                                const struct memory_map *map);

/* Cuts glibc's main arena out of roots: its pointers to the top chunk and to free chunks
 * are chunk headers, which lie inside the last bytes of the live block before them when
 * that block's size is not a multiple of 16. Found by its pointer to the top chunk. */
void heap_roots_cut_allocator_state(struct range_list *roots, const struct range_list *libc_data,
                                    const struct memory_map *map);

/* The dynamic loader's code (empty in a static program). LeakSanitizer's rule: what the
 * loader allocates is reachable, and a root. It keeps pointers to it where no scan looks:
 * in the memory of its own allocator from before the C library's was bound (the link maps
 * of the preload library's dependencies, which a dlopen of one of them, or pthread_exit's
 * of libgcc_s, gives an array allocated through malloc). */
struct address_range heap_roots_loader_code(void);

/* The control block of every glibc thread whose stack glibc allocated, running or exited
 * (glibc keeps the stacks of exited threads for new ones, with their thread-local storage
 * blocks allocated): libc's own pointers to its TLS blocks, whatever the thread does. */
bool heap_roots_add_control_blocks(struct range_list *roots, const struct memory_map *map);

/* A thread's stack above stack_pointer (and the red zone below it, for a thread stopped
 * anywhere) and its static TLS around thread_pointer (either 0 when unknown). */
bool heap_roots_add_thread(struct range_list *roots, uintptr_t stack_pointer,
                           uintptr_t thread_pointer, const struct memory_map *map,
                           bool red_zone);

#endif
