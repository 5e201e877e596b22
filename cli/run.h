/* run.h: `malloc-trace run`: runs a program under the preload library, then reports. */
#ifndef MALLOC_TRACE_CLI_RUN_H
#define MALLOC_TRACE_CLI_RUN_H

/* `malloc-trace run [-o FILE] [-p SECONDS] [--fail-on-leak] -- PROGRAM [ARGS...]`: the
 * program's exit status (128+N when signal N killed it); 23 with --fail-on-leak when the
 * program succeeded and check would fail. */
int run_command(int argc, char **argv);

#endif
