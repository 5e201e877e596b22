/* symbolizer.h: names for code addresses, once per address, in the flusher (or the exit
 * pass) only: it reads ELF files and allocates, so it runs under the guard and the flush
 * lock, never on the allocation path. */
#ifndef MALLOC_TRACE_SYMBOLIZER_H
#define MALLOC_TRACE_SYMBOLIZER_H

#include <stdbool.h>
#include <stdint.h>

struct frame_name {
    const char *function; /* demangled symbol, else MODULE+0xOFFSET, else 0xADDRESS */
    const char *module;   /* path of the mapped file, "" when none is known */
};

/* Names the call that returned to return_address. With symbols false, function is always
 * MODULE+0xOFFSET (or 0xADDRESS). The strings live as long as the process. */
void symbolizer_name(uintptr_t return_address, bool symbols, struct frame_name *out);

/* Allows one re-read of the process's modules in the next batch of look-ups (a module
 * loaded since the last read is found then). */
void symbolizer_new_batch(void);

#endif
