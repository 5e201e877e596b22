/* run.c: see run.h. */
#define _GNU_SOURCE
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "options.h"
#include "report.h"
#include "trace_summary.h"

/* LeakSanitizer's exit status for a leak. */
#define EXIT_LEAKED 23

static const char usage[] =
    "usage: malloc-trace run [-o FILE] [-p SECONDS] [--fail-on-leak] -- PROGRAM [ARGS...]\n";

/* The preload library: ../lib/malloc-trace.so from the command (an installed or copied
 * tree), else malloc-trace.so beside it (the build tree). */
static bool find_preload(char *out, size_t size)
{
    char self[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0)
        return false;
    self[length] = '\0';
    const char *directory = dirname(self);
    const char *candidates[] = {"%s/../lib/malloc-trace.so", "%s/malloc-trace.so"};
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
        snprintf(out, size, candidates[i], directory);
        if (access(out, R_OK) == 0)
            return true;
    }
    return false;
}

static pid_t child;

static void forward(int signal_number)
{
    if (child > 0)
        kill(child, signal_number);
}

/* Signals that ask the program to do something (stop, reload, rotate its logs...), passed
 * on; in the child, put back as they were. Sent to the whole process group, the program
 * gets them twice (from the sender, then from here), as it gets SIGTERM under a shell script
 * that passes it on; SIGINT and SIGQUIT, which the terminal sends to the group, are left to
 * reach the program that way only (as under a shell's system()). */
static const int passed_on[] = {SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM};
#define PASSED_ON_COUNT (sizeof passed_on / sizeof *passed_on)

/* Whether a file may be replaced: it is not there, or is a regular file (a device, a FIFO,
 * a directory or a symbolic link at that path is the user's, not a trace). */
static bool replaceable(const char *path)
{
    struct stat status;
    if (lstat(path, &status) != 0)
        return errno == ENOENT;
    return S_ISREG(status.st_mode);
}

/* Replaces path, the report covering this run only; false, said, when it cannot. */
static bool remove_old_trace(const char *path)
{
    if (!replaceable(path)) {
        fprintf(stderr, "malloc-trace run: %s is not a regular file, which a trace would "
                        "replace\n", path);
        return false;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        fprintf(stderr, "malloc-trace run: cannot replace %s: %s\n", path, strerror(errno));
        return false;
    }
    return true;
}

/* In the child: the environment that traces this process and none of its descendants (the
 * library removes itself from LD_PRELOAD when it sees MALLOC_TRACE_RUN). */
static void prepare_environment(const char *preload, const char *trace, const char *period)
{
    const char *existing = getenv("LD_PRELOAD");
    char *value = NULL;
    if (existing != NULL && existing[0] != '\0') {
        if (asprintf(&value, "%s:%s", preload, existing) < 0)
            _exit(127);
    }
    setenv("LD_PRELOAD", value != NULL ? value : preload, 1);
    setenv("MALLOC_TRACE_RUN", "1", 1);
    setenv("out_file_path", trace, 1);
    if (period != NULL)
        setenv("malloc_second_peremption", period, 1);
    free(value);
}

/* In the child: it said why the program did not start (see exec_failed in run_command). */
static void tell_not_started(int pipe_end)
{
    ssize_t told = write(pipe_end, "x", 1);
    (void)told; /* a parent that cannot read it says "no trace" as well: one line more */
}

int run_command(int argc, char **argv)
{
    static const struct option options[] = {{"output", required_argument, NULL, 'o'},
                                            {"period", required_argument, NULL, 'p'},
                                            {"fail-on-leak", no_argument, NULL, 'f'},
                                            OPTION_HELP_LONG,
                                            {NULL, 0, NULL, 0}};
    static const char short_options[] = "+o:p:h";
    const char *output = NULL, *period = NULL;
    bool fail_on_leak = false;
    int option;
    options_begin();
    while ((option = getopt_long(argc, argv, short_options, options, NULL)) != -1) {
        switch (option) {
        case 'o':
            output = optarg;
            break;
        case 'p': {
            char *end;
            unsigned long seconds = strtoul(optarg, &end, 10);
            /* Digits only, as the tracer reads the setting: strtoul also takes a sign and
             * leading blanks, which the tracer refused, running with its default period. */
            if (*optarg < '0' || *optarg > '9' || *end != '\0' || seconds == 0
                || seconds > 31622400) {
                fprintf(stderr, "malloc-trace run: -p takes a whole number of seconds from 1 "
                                "to 31622400, not '%s'\n", optarg);
                return 2;
            }
            period = optarg;
            break;
        }
        case 'f':
            fail_on_leak = true;
            break;
        case OPTION_HELP:
            return options_help(usage);
        default:
            return options_refused("run", argv, short_options, options, usage);
        }
    }
    if (optind >= argc) {
        fputs(usage, stderr);
        return 2;
    }
    char preload[PATH_MAX];
    if (!find_preload(preload, sizeof preload)) {
        fputs("malloc-trace run: malloc-trace.so not found in ../lib or beside the command\n",
              stderr);
        return 2;
    }
    if (strpbrk(preload, " :") != NULL) {
        fprintf(stderr, "malloc-trace run: %s: LD_PRELOAD cannot hold a path with a space or "
                        "':'; install malloc-trace elsewhere\n", preload);
        return 2;
    }
    if (output != NULL && output[0] == '\0') {
        fputs("malloc-trace run: -o takes a file name, not an empty one\n", stderr);
        return 2;
    }
    if (output != NULL && strchr(output, '%') != NULL) {
        fputs("malloc-trace run: -o FILE cannot hold '%'\n", stderr);
        return 2;
    }
    /* Absolute, so that the program may change directory; %p is the program's process id,
     * as the library expands it. Not needed for an absolute -o (a directory since deleted
     * has no name). */
    bool relative = output == NULL || output[0] != '/';
    char directory[PATH_MAX] = "";
    if (relative && getcwd(directory, sizeof directory) == NULL) {
        fprintf(stderr, "malloc-trace run: getcwd: %s\n", strerror(errno));
        return 2;
    }
    /* The trace's path is made absolute with this directory: a '%' in it would be expanded
     * too, and the trace written where run does not look. */
    if (relative && strchr(directory, '%') != NULL) {
        fprintf(stderr, "malloc-trace run: the working directory %s holds '%%': give -o an "
                        "absolute path without one\n", directory);
        return 2;
    }
    char trace[2 * PATH_MAX + 64];
    if (output != NULL) {
        snprintf(trace, sizeof trace, "%s%s%s", output[0] == '/' ? "" : directory,
                 output[0] == '/' ? "" : "/", output);
        if (!remove_old_trace(trace))
            return 2;
    }
    /* The parent waits, passing signals on (see passed_on); a closed stderr must not kill it
     * before it returns the program's status, and an ignored SIGCHLD (as a parent may leave
     * it), which reaps the child unasked, must not leave waitpid no status: the program gets
     * SIGCHLD back as it was. */
    struct sigaction pass_on = {.sa_handler = forward}, ignore = {.sa_handler = SIG_IGN},
                     by_default = {.sa_handler = SIG_DFL}, saved_int, saved_quit, saved_pipe,
                     saved_child, saved[PASSED_ON_COUNT];
    sigemptyset(&pass_on.sa_mask);
    sigemptyset(&ignore.sa_mask);
    sigemptyset(&by_default.sa_mask);
    sigaction(SIGINT, &ignore, &saved_int);
    sigaction(SIGQUIT, &ignore, &saved_quit);
    sigaction(SIGPIPE, &ignore, &saved_pipe);
    sigaction(SIGCHLD, &by_default, &saved_child);
    for (size_t i = 0; i < PASSED_ON_COUNT; i++)
        sigaction(passed_on[i], &pass_on, &saved[i]);
    /* The child says through it that it could not start the program (the pipe closes on a
     * successful exec): that was its one message, with no "no trace" line after it. */
    int exec_failed[2];
    if (pipe2(exec_failed, O_CLOEXEC) != 0) {
        fprintf(stderr, "malloc-trace run: pipe: %s\n", strerror(errno));
        return 2;
    }
    fflush(NULL);
    child = fork();
    if (child < 0) {
        fprintf(stderr, "malloc-trace run: fork: %s\n", strerror(errno));
        return 2;
    }
    if (child == 0) {
        sigaction(SIGINT, &saved_int, NULL);
        sigaction(SIGQUIT, &saved_quit, NULL);
        sigaction(SIGPIPE, &saved_pipe, NULL);
        sigaction(SIGCHLD, &saved_child, NULL);
        for (size_t i = 0; i < PASSED_ON_COUNT; i++)
            sigaction(passed_on[i], &saved[i], NULL);
        if (output == NULL) {
            /* A file of an earlier process with the same id (ids come round again, from 1
             * in every new container) would be appended to. */
            snprintf(trace, sizeof trace, "%s/malloc-trace.%d.csv", directory, (int)getpid());
            if (!remove_old_trace(trace)) {
                tell_not_started(exec_failed[1]);
                _exit(126);
            }
        }
        prepare_environment(preload, trace, period);
        execvp(argv[optind], argv + optind);
        int error = errno;
        fprintf(stderr, "malloc-trace run: cannot run %s: %s\n", argv[optind],
                strerror(error));
        tell_not_started(exec_failed[1]);
        _exit(error == ENOENT ? 127 : 126);
    }
    close(exec_failed[1]);
    char failed;
    ssize_t said;
    do
        said = read(exec_failed[0], &failed, 1);
    while (said < 0 && errno == EINTR);
    close(exec_failed[0]);
    if (output == NULL)
        snprintf(trace, sizeof trace, "%s/malloc-trace.%d.csv", directory, (int)child);
    int status;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "malloc-trace run: waitpid: %s\n", strerror(errno));
            return 2;
        }
    }
    int exit_status = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    if (said == 1)
        return fail_on_leak ? 2 : exit_status;
    if (access(trace, R_OK) != 0) {
        /* Not traced (a static or set-user-ID program, an unwritable path): a gate cannot
         * pass on that. */
        fprintf(stderr, "malloc-trace: no trace was written at %s\n", trace);
        return fail_on_leak ? 2 : exit_status;
    }
    fprintf(stderr, "malloc-trace: trace written to %s\n", trace);
    char *paths[] = {trace};
    bool bad_input = false;
    struct trace_summary *summary = trace_summary_read(paths, 1, &bad_input);
    if (summary == NULL) /* said why; and a gate cannot pass on no verdict */
        return fail_on_leak && exit_status == 0 ? 2 : exit_status;
    size_t count;
    struct outstanding *list = trace_summary_list(summary, &count);
    report_print_text(stderr, list, count, 10);
    free(list);
    /* The gate judges the summary read once: read again, each damaged line was named twice.
     * A damaged trace gives no verdict, and a gate cannot pass on that. */
    int verdict = fail_on_leak && exit_status == 0 ? check_summary(summary, bad_input) : 0;
    trace_summary_free(summary);
    if (verdict != 0)
        return verdict == 1 ? EXIT_LEAKED : 2;
    return exit_status;
}
