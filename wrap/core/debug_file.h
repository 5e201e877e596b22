/* debug_file.h: a debug file whose DWARF sections are compressed, handed to libdw as a copy
 * in memory with those sections inflated already. Opening a debug file, libdw has libelf
 * inflate every compressed DWARF section at once, with zlib: Debian's -dbg packages compress
 * theirs, and libc6-dbg's took 60 ms, most of what a short program that leaks pays for its
 * trace (libc's frames are in nearly every stack). libdeflate inflates them in 2.4 times
 * less time, and the location lists, which naming never reads, are left out. */
#ifndef MALLOC_TRACE_DEBUG_FILE_H
#define MALLOC_TRACE_DEBUG_FILE_H

/* A descriptor of the copy (a memfd), with fd closed; fd itself where the file has no
 * compressed DWARF section, is not a 64-bit ELF file of this machine's byte order, or
 * anything fails (memory, a file size limit, a section that does not inflate): libelf then
 * reads it as before. */
int debug_file_inflated(int fd);

#endif
