/* symbolizer.h: function, source file and line for code addresses, with inlined calls
 * expanded, as `addr2line -f -i -C` prints them. Used in the flusher (or the exit pass)
 * only: it reads ELF files and allocates, so it runs under the guard and the flush lock,
 * never on the allocation path. */
#ifndef MALLOC_TRACE_SYMBOLIZER_H
#define MALLOC_TRACE_SYMBOLIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "module_symbols.h"

/* Describes the call that returned to return_address: the innermost (inlined) call first,
 * the function the call's code belongs to last. With symbols false, one frame named
 * MODULE+0xOFFSET. Returns how many frames it filled (at least 1, at most max); their
 * strings stay valid until the next call. */
size_t symbolizer_describe(uintptr_t return_address, bool symbols, struct source_frame *frames,
                           size_t max);

/* The code address as MODULE+0xOFFSET, in one frame (its "m" the module), the module found
 * by the dynamic loader without libdw (which reads /proc/self/maps and the module's file: a
 * chroot or a sandbox may refuse either), its path as /proc/self/maps shows it where
 * may_allocate (realpath may allocate); false where no module holds it. The strings stay
 * valid until the next call. */
bool symbolizer_describe_by_loader(uintptr_t address, bool may_allocate,
                                   struct source_frame *frame);

/* Remembers the executable's path while /proc can still tell it (before a chroot). */
void symbolizer_start(void);

/* Allows one re-read of the process's modules in the next batch of look-ups (a module
 * loaded since the last read is found then). */
void symbolizer_new_batch(void);

/* Forgets the modules that are gone: after a dlclose, an address may belong to another
 * module (glibc may map the next dlopen at the same address). */
void symbolizer_forget_modules(void);

#endif
