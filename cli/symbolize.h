/* symbolize.h: `malloc-trace symbolize [--sysroot DIR] FILE... -o OUT`: names the
 * MODULE+0xOFFSET frames of traces written with MALLOC_TRACE_SYMBOLS=0 (on an embedded
 * target, say), reading each MODULE at its path, under DIR when given. */
#ifndef MALLOC_TRACE_CLI_SYMBOLIZE_H
#define MALLOC_TRACE_CLI_SYMBOLIZE_H

int symbolize_command(int argc, char **argv);

#endif
