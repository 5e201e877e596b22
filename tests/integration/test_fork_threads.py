"""Processes that fork, threads that allocate and free across threads, exit from a thread."""
import glob
import os
import re
import resource
import signal
import tempfile

from harness import (FORMS, HEADER, WORK, assert_expected_rows, build, build_shared, check,
                     check_named_by_symbolize, equal, pkg_config, program_frames, read_trace,
                     run)


def fork_with_pid_files_in(form):
    program = build("forks.c", form)
    for old in glob.glob(os.path.join(WORK, f"fork.{form}.*.csv")):
        os.unlink(old)
    template = os.path.join(WORK, f"fork.{form}.%p.csv")
    result = run(program, form, trace=template)
    equal(result.returncode, 0, "exit status")
    equal(result.stderr, "", "stderr")
    child = int(re.search(r"^CHILD (\d+)$", result.stdout, re.M).group(1))
    before, in_child, after = result.expected
    parent_rows = read_trace(template.replace("%p", str(before["thread_id"])))
    child_rows = read_trace(template.replace("%p", str(child)))

    def leaks(rows):
        return sorted((r["address"], r["size"], r["thread_id"]) for r in rows
                      if "main" in program_frames(r, program))

    def key(expected):
        return (expected["address"], expected["size"], expected["thread_id"])

    equal(leaks(parent_rows), sorted([key(before), key(after)]), "the parent's leaks")
    equal(leaks(child_rows), sorted([key(before), key(in_child)]), "the child's leaks")
    equal(in_child["thread_id"], child, "the child's thread id")


def test_fork_wrap():
    fork_with_pid_files_in("wrap")


def test_fork_static():
    fork_with_pid_files_in("static")


def test_fork_preload():
    fork_with_pid_files_in("preload")


def test_fork_shared_file_preload():
    program = build("forks.c", "preload")
    result = run(program, "preload")
    equal(result.returncode, 0, "exit status")
    with open(result.trace_path) as trace:
        equal(trace.read().count("function;thread_id"), 1, "headers in the shared file")
    rows = [r for r in result.rows() if "main" in program_frames(r, program)]
    before = result.expected[0]["address"]
    equal(sorted(r["address"] for r in rows if r["address"] == before), [before, before],
          "the block leaked before fork, reported by both processes")
    equal(len(rows), 4, "leak rows in the shared file")


def test_fork_while_threads_live():
    """A child of a parent with live threads starts and joins threads of its own: glibc frees
    the parent's cached thread stacks there, with its stack cache locked. The child neither
    hangs (its first hook was a free, which started the flusher: pthread_create waited for
    that lock for ever) nor writes a `free` row (the parent's flusher's thread-local storage,
    never recorded, freed with its stack)."""
    for form in ("wrap", "static", "preload"):
        program = build("fork_thread_stacks.c", form)
        directory = tempfile.mkdtemp(prefix="fork.", dir=WORK)
        result = run(program, form, trace=os.path.join(directory, "trace.%p.csv"))
        equal((result.returncode, result.stdout, result.stderr), (0, "", ""),
              f"exit status, stdout and stderr ({form})")
        traces = sorted(glob.glob(os.path.join(directory, "trace.*.csv")))
        equal(len(traces), 2, f"traces of the parent and the child ({form})")
        for trace in traces:
            equal([r for r in read_trace(trace) if r["function"] == "free"], [],
                  f"free rows in {os.path.basename(trace)} ({form})")


def test_fork_after_dropping_privileges():
    """A parent that dropped its privileges forks; without %p the child goes on appending to
    the file it shares with its parent, which it may no longer open (it closed it, and lost
    every row of its own, with a message)."""
    for form in ("wrap", "static", "preload"):
        program = build("fork_after_setuid.c", form)
        result = run(program, form)
        equal((result.returncode, result.stderr), (0, ""), f"exit status and stderr ({form})")
        equal(len(result.expected), 2, f"blocks of both processes ({form})")
        assert_expected_rows(result, program)


def test_last_thread_ending_with_the_exit_system_call():
    """The program's only thread ends with the exit system call: the process ends with its
    status, within a second, with no exit pass (as after _exit). Until ab683b8 the flusher
    thread kept the process alive for ever, every signal but SIGKILL blocked."""
    for form in FORMS:
        program = build("last_thread_exits_by_system_call.c", form)
        result = run(program, form, timeout=20)
        equal((result.returncode, result.stdout, result.stderr), (7, "ending\n", ""),
              f"exit status, stdout, stderr ({form})")
        equal(result.rows(), [], f"rows ({form})")


def test_a_seccomp_filter_that_kills_the_exit_pass():
    """A program whose own seccomp filter kills its only thread at a system call that the
    exit pass makes (rt_sigaction): the flusher, which the filter does not cover, runs the
    pass; the program ends with its own status and its leak is written. Until 5b56832 it
    lived on for ever, the flusher waiting for the lock that the killed thread held; until
    e214c1c it ended by the filter's SIGSYS, its rows lost."""
    def no_core():
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for form in FORMS:
        program = build("seccomp_kills_in_the_exit_pass.c", form)
        result = run(program, form, timeout=20, preexec=no_core)
        equal((result.returncode, result.stdout, result.stderr), (0, "filtered\n", ""),
              f"exit status, stdout, stderr ({form})")
        equal([(r["function"], r["size"]) for r in result.rows()
               if "main" in program_frames(r, program)], [("leak", 19)], f"rows ({form})")


def test_no_block_left_no_scan():
    """A program that frees all it allocated, then applies to every thread (the flusher too) a
    seccomp filter that kills the process at rt_sigaction, a call of the leak scan's: with no
    block left the exit pass scans nothing, and the program ends with its own status. Until
    beec7ca the pass made that call (and stopped the threads, and read every root) for
    no block, and the program ended by SIGSYS. (Not the static form: its libc keeps blocks
    it allocated before the tracer started, which the pass has to classify.)"""
    def no_core():
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for form in ("wrap", "preload"):
        program = build("seccomp_kills_in_the_exit_pass.c", form)
        result = run(program, form, args=["freed"], timeout=20, preexec=no_core)
        equal((result.returncode, result.stdout, result.stderr), (0, "filtered\n", ""),
              f"exit status, stdout, stderr ({form})")
        equal(result.rows(), [], f"rows ({form})")


def test_sshd_pre_authentication_sandbox():
    """OpenSSH's sandbox before authentication, on the program's only thread: a seccomp
    filter that kills it at any system call sshd's child does not make, under which the
    program allocates, frees and returns from main. The exit pass runs on the flusher: the
    status is the program's and both leaks are written, with their stacks. With sshd's limits
    as well (no new descriptor, no byte written to a file) the status is still the program's,
    and two lines say what was lost. Until e214c1c such a program ended by SIGSYS in its exit
    pass."""
    def no_core():
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for form in FORMS:
        program = build("sshd_like_sandbox.c", form)
        result = run(program, form, timeout=20, preexec=no_core)
        equal((result.returncode, result.stdout.splitlines()[0], result.stderr),
              (0, "filtered", ""), f"exit status, stdout, stderr ({form})")
        assert_expected_rows(result, program)
        result = run(program, form, args=["limits"], timeout=20, preexec=no_core)
        lost = ("malloc-trace: the leak scan cannot run (no memory, or /proc/self/maps cannot be "
                "read: a chroot, a limit on descriptors): every block left is written as a leak\n"
                f"malloc-trace: cannot write {result.trace_path}: File too large\n")
        equal((result.returncode, result.stdout.splitlines()[0], result.stderr),
              (0, "filtered", lost), f"with sshd's limits: exit status, stdout, stderr ({form})")
        equal(result.rows(), [], f"with sshd's limits: rows ({form})")


def test_a_child_made_by_a_raw_clone_system_call():
    """vsftpd's sessions: a child made by syscall(SYS_clone, SIGCHLD), which no fork handler
    sees, leaks a block, calls setgid and exit(7): the child is found out at its first
    allocation (its mark, in a page the kernel empties in a child, reads 0) and set up as a
    forked one, with a flusher of its own on a stack of its own. Its leak is written with its
    own thread id, into its own file with %p. Until d619e5b its rows had its parent's thread
    id and went into its parent's file; until e85a857 it handed its exit pass to the flusher
    it had a copy of and no thread of, and waited for ever; until d81256f its flusher took
    its parent's flusher's stack, which glibc then listed twice, and setgid went round the
    list for ever."""
    for form in FORMS:
        program = build("raw_clone_child.c", form)
        for template in ("%p", ""):
            trace = tempfile.mktemp(prefix="trace.", suffix=f"{template}.csv", dir=WORK)
            result = run(program, form, trace=trace, timeout=30)
            equal((result.returncode, result.stdout.splitlines()[1:], result.stderr),
                  (0, ["CHILD 7"], ""), f"exit status, stdout, stderr ({form}, {template!r})")
            leaked, child = result.stdout.splitlines()[0].split()[1:]
            path = trace.replace("%p", child)
            equal([(r["function"], r["size"], r["thread_id"]) for r in read_trace(path)
                   if r["address"] == leaked],
                  [("leak", 300, int(child))], f"the child's leak ({form}, {template!r})")


def test_raw_clones_while_the_flusher_holds_its_lock():
    """60 children of a raw clone system call, made while the flusher's periodic passes write
    many rows (a period of 1 s), each calling setgid, leaking 77 bytes and calling exit: every
    one ends, and writes its leak with its own thread id. Until 3cb83a6 a child whose copy of
    the flush lock was held (by its parent's flusher) waited for it for ever, in setgid's hook
    or in its exit pass (3 runs in 3 hung there)."""
    settings = {"malloc_second_peremption": "1", "MALLOC_TRACE_SYMBOLS": "0",
                "MALLOC_TRACE_DEPTH": "4"}
    for form in FORMS:
        program = build("raw_clones_while_passes_run.c", form)
        result = run(program, form, env=settings, timeout=300)
        equal((result.returncode, result.stdout, result.stderr), (0, "ENDED 60 HUNG 0\n", ""),
              f"exit status, stdout, stderr ({form})")
        # Read line by line: the trace holds some 200,000 rows, and a peak in this process's
        # memory is inherited by the peak each later child reports (libFuzzer's RSS limit).
        leaks = []
        with open(result.trace_path, encoding="utf-8") as trace:
            for line in trace:
                fields = line.split(";", 4)
                if fields[0] == "leak" and fields[3] == "77":
                    leaks.append(fields[1])
        equal((len(leaks), len(set(leaks))), (60, 60), f"the children's leaks ({form})")
        os.unlink(result.trace_path)


def test_a_thread_that_reads_signals_from_a_signalfd():
    """Every thread blocks every signal, and one reads them from a signalfd: the leak scans
    (malloc_trace_check_leaks, then the exit pass) leave it out of their stop signal, and scan
    it as it waits. Until ab683b8 the stop signal was sent to it, stayed pending, and the
    program read it as its own ("signal 64")."""
    for form in FORMS:
        program = build("signalfd_reader.c", form)
        result = run(program, form, timeout=30)
        equal((result.returncode, result.stdout, result.stderr), (0, "signal 10\n", ""),
              f"exit status, stdout, stderr ({form})")


def test_exit_in_a_signal_handler_that_interrupted_fflush():
    """A SIGALRM handler that interrupts fflush(NULL), which holds glibc's lock of the list of
    streams, leaks 55 bytes and calls exit(3), or malloc_trace_check_leaks() and _exit(5):
    the pass runs on the handler's thread, which holds that lock already, and the process
    ends with that status, the leak written. Until 3cb83a6 the pass was handed to the
    flusher, which waited for the lock for ever, and the handler's thread for the flusher.
    periodic: a 4077-byte leak first, and the alarm sent once a periodic flush wrote it as
    malloc. Until c89a0da that flush opened /proc/self/maps as a FILE to name its frames, which
    waited for the lock for ever, under the tracer's flush lock: the row never came."""
    for form in FORMS:
        program = build("exit_while_fflush_waits.c", form)
        result = run(program, form, timeout=60)
        equal((result.returncode, result.stderr), (3, ""), f"exit: status, stderr ({form})")
        equal([r["function"] for r in result.rows() if r["size"] == 55], ["leak"],
              f"exit: the leak ({form})")
        result = run(program, form, args=["check"], timeout=60)
        equal((result.returncode, result.stdout, result.stderr), (5, "FOUND 1\n", ""),
              f"check: status, stdout, stderr ({form})")
        equal([r["function"] for r in result.rows() if r["size"] == 55], ["leak"],
              f"check: the leak ({form})")
        result = run(program, form, args=["periodic"], timeout=60,
                     env={"malloc_second_peremption": "1"})
        equal((result.returncode, result.stderr), (3, ""), f"periodic: status, stderr ({form})")
        equal(sorted((r["function"], r["size"]) for r in result.rows() if r["size"] in (55, 4077)),
              [("leak", 55), ("leak", 4077), ("malloc", 4077)], f"periodic: the rows ({form})")


def test_exit_in_a_signal_handler():
    """exit() in a signal handler that interrupted the tracer (a daemon's SIGTERM handler,
    during its allocations) cannot run the exit pass: the tracer says so, in one line; when
    it interrupted malloc, the three leaks are written with frames unnamed, and a line says
    so; when it interrupted the program elsewhere, the three leaks are written."""
    message = ("malloc-trace: exit() was called in a signal handler that interrupted the "
               "tracer: no exit rows are written\n")
    in_malloc = ("malloc-trace: exit() was called in a signal handler that interrupted malloc: "
                 "frames not named before are written as MODULE+0xOFFSET\n")
    for form in ("wrap", "static", "preload"):
        program = build("exit_in_handler.c", form)
        result = run(program, form)
        equal(result.returncode, 42, f"exit status ({form})")
        rows = result.rows()
        leaks = [r for r in rows if "leak_block" in program_frames(r, program)]
        if result.stderr == "":
            equal([(r["function"], r["size"]) for r in leaks], [("leak", 321)] * 3,
                  f"exit rows ({form})")
        elif result.stderr == in_malloc:  # rows, their frames unnamed (no periodic pass ran)
            equal([(r["function"], r["size"]) for r in rows if r["size"] == 321],
                  [("leak", 321)] * 3, f"exit rows ({form})")
        else:
            equal((result.stderr, leaks), (message, []), f"stderr and exit rows ({form})")


def test_exit_in_a_signal_handler_that_interrupted_malloc():
    """exit() in a signal handler that interrupted the program's allocator inside malloc
    (linked with an allocator that holds its lock there): the exit pass allocates nothing and
    writes its rows, their frames as MODULE+0xOFFSET; naming them took libdw into malloc,
    which waited for the allocator's lock for ever."""
    message = ("malloc-trace: exit() was called in a signal handler that interrupted malloc: "
               "frames not named before are written as MODULE+0xOFFSET\n")
    library = build_shared("locking_allocator.c", "liblocking_allocator.so")
    for form in ("preload", "wrap"):
        program = build("exit_in_allocator.c", form, extra=[library, f"-Wl,-rpath,{WORK}"])
        result = run(program, form, timeout=30)
        equal((result.returncode, result.stderr), (5, message), f"exit status, stderr ({form})")
        rows = result.rows()
        assert_expected_rows(result, program, rows)
        check_named_by_symbolize(result, program, 93, ["leak", "main"], form)


def test_fork_in_a_signal_handler_inside_the_tracer():
    """fork() in a signal handler while its thread is inside the tracer: the fork handlers
    take no lock (the interrupted hook may hold one, and they waited for it for ever), and
    the child, whose tables another thread may have been changing, traces nothing and says
    so. The wrap forms only: the program raises the tracer's guard (exported there) to stand
    in the state of an interrupted hook."""
    message = ("malloc-trace: fork() was called in a signal handler that interrupted the "
               "tracer: the child is not traced\n")
    for form in ("wrap", "static"):
        program = build("fork_in_handler.c", form)
        result = run(program, form, timeout=30)
        equal((result.returncode, result.stderr), (0, message), f"exit status, stderr ({form})")
        check("CHILD 0\n" in result.stdout, f"the child's exit ({form}): {result.stdout}")
        rows = result.rows()
        assert_expected_rows(result, program, rows)
        equal([row["size"] for row in rows if row["size"] == 62], [], f"the child's leak ({form})")


def test_fork_while_another_thread_sets_a_limit():
    """A thread that sets RLIMIT_AS makes the tracer fit its reservations, taking the lock of
    the blocks' contexts; until ea76c63 it took it outside every shard lock, which the fork
    handlers take, and a child forked meanwhile found it held for ever (its first malloc
    hung, by the 20th fork at the latest)."""
    for form in FORMS:
        program = build("fork_while_limits_change.c", form)
        result = run(program, form, timeout=180)
        equal((result.returncode, result.stdout, result.stderr, result.rows()),
              (0, "children that ended: 300 of 300\n", "", []),
              f"exit status, stdout, stderr, rows ({form})")


def test_ignore_in_a_signal_handler_inside_the_tracer():
    """malloc_trace_ignore from a signal handler that interrupted a hook, which may hold the
    block's shard lock: it is applied when the hook ends, as the handler's mallocs are. Until
    ea76c63 it took the lock and waited for ever, at the first such signal."""
    for form in FORMS:
        program = build("ignore_in_a_signal_handler.c", form)
        result = run(program, form, timeout=120)
        equal((result.returncode, result.stdout, result.stderr, result.rows()),
              (0, "ignored from a handler: yes\n", "", []),
              f"exit status, stdout, stderr, rows ({form})")


def test_exit_from_two_threads():
    """A thread ends the process (exit, or main's return) while another one runs the exit
    pass: it waits for the pass, which writes every row (there were none: glibc's second
    exit went straight on to end the process). Reachable blocks are written too: in the
    static form, main's blocks lie below 4 GiB, where a word of the program's data that is
    no pointer (0x1000000, 0x20000000) can hold a block's address: in 2 to 4 runs of 100
    with main first, one to three blocks were reachable and had no row."""
    for form in ("wrap", "static", "preload"):
        program = build("exit_from_two_threads.c", form)
        for first in ("main", "thread"):
            result = run(program, form, args=[first], env={"MALLOC_TRACE_REACHABLE": "1"})
            equal((result.returncode, result.stderr), (3, ""), f"exit status, stderr ({form})")
            # The text, not result.rows(): parsing 50,000 stacks took 2 s a run.
            with open(result.trace_path) as trace:
                lines = trace.read().split("\n")
            equal((lines[0], lines[-1]), (HEADER, ""), f"header, last line whole ({form})")
            leaks = [line.split(";", 5) for line in lines[1:-1]
                     if '"f":"leak_blocks"' in line]
            equal((len(leaks), {(row[0] if row[0] != "reachable" else "leak", row[3],
                                 row[5][-1]) for row in leaks}),
                  (50000, {("leak", "48", "]")}), f"exit rows ({form}, {first} first)")


def test_threads_throwing_while_the_exit_pass_runs():
    """Two threads throw and catch in a loop while main returns: a static program's frames
    stay registered with libgcc's unwinder through the exit pass (crtbeginT.o takes its own
    registration back before the pass, and every static run aborted in a throw)."""
    for form in ("static", "wrap", "preload"):
        extra = pkg_config("--variable=static_cxx") if form == "static" else []
        program = build("unwinding_threads_at_exit.cpp", form, extra=extra)
        for _ in range(3):
            result = run(program, form, timeout=30)
            equal((result.returncode, result.stderr), (3, ""), f"exit status, stderr ({form})")
            leaks = [(row["function"], row["size"]) for row in result.rows()
                     if "leak_a_block()" in program_frames(row, program)]
            equal(leaks, [("leak", 123)], f"exit rows ({form})")


def test_main_that_calls_pthread_exit():
    """main ends with pthread_exit, alone or before a worker that leaks: the process ends
    with status 0 when its last thread does, and writes the leak (the flusher thread kept it
    alive for ever: a timeout)."""
    for form in FORMS:
        program = build("main_calls_pthread_exit.c", form)
        for mode in ("alone", "worker"):
            result = run(program, form, args=[mode], timeout=30)
            equal((result.returncode, result.stderr), (0, ""), f"exit status, stderr ({form})")
            leaks = [(row["function"], row["size"]) for row in result.rows()
                     if "leak_a_block" in program_frames(row, program)]
            equal(leaks, [("leak", 33)], f"exit rows ({form}, {mode})")


def test_exit_while_a_thread_walks_modules():
    """A thread holds the loader's lock (in dl_iterate_phdr) and opens a file, which takes
    stdio's lock, while main returns: the exit pass holds stdio's lock (see above) and must
    not ask the loader under it. Asking it there hung every run, in every form."""
    for form in ("wrap", "static", "preload"):
        program = build("exit_while_a_thread_walks_modules.c", form)
        result = run(program, form, timeout=30)
        equal((result.returncode, result.stderr), (3, ""), f"exit status, stderr ({form})")
        leaks = [(row["function"], row["size"]) for row in result.rows()
                 if "leak_blocks" in program_frames(row, program)]
        equal(leaks, [("leak", 40)] * 1000, f"exit rows ({form})")


def test_library_loaded_while_the_exit_pass_waits_is_a_root():
    """A library loaded while the exit pass waits for stdio's lock (after it asked the loader
    for the modules' segments) keeps a block in its data: the block is reachable, no leak row
    (it was one in every run)."""
    library = build_shared("library_keeping_a_block.c", "libkeeping_a_block.so")
    program = build("load_while_stdio_is_held.c", "preload")
    result = run(program, "preload", args=[library], timeout=30)
    equal((result.returncode, result.stderr), (3, ""), "exit status, stderr")
    equal([row for row in result.rows() if row["size"] == 77], [], "rows of the library's block")


def test_no_descriptor_left_at_exit():
    """A program that can open no file at exit: the leak scan cannot read /proc/self/maps,
    says why in one line (it said "out of memory"), and writes every block left as a leak."""
    message = ("malloc-trace: the leak scan cannot run (no memory, or /proc/self/maps cannot be "
               "read: a chroot, a limit on descriptors): every block left is written as a "
               "leak\n")
    for form in ("wrap", "static", "preload"):
        program = build("descriptor_limit_at_exit.c", form)
        result = run(program, form)
        equal((result.returncode, result.stderr), (0, message), f"exit status, stderr ({form})")
        assert_expected_rows(result, program)


def fork_stress_in(form):
    program = build("forks.c", form)
    result = run(program, form, args=["stress"], timeout=120)
    equal(result.returncode, 0, "exit status")
    equal(result.stderr, "", "stderr")
    rows = result.rows()  # every line whole, six fields, JSON stacks
    orphans = [r for r in rows if r["function"] == "free" and len(r["stack"]) > 1]
    equal(orphans, [], "orphan frees")


def test_fork_stress_wrap():
    fork_stress_in("wrap")


def test_fork_stress_preload():
    fork_stress_in("preload")


def threads_in(form):
    program = build("threads.c", form)
    result = run(program, form, timeout=120)
    equal(result.returncode, 0, "exit status")
    equal(result.stderr, "", "stderr")
    equal(len(result.expected), 20, "EXPECT lines")
    equal(len({e["thread_id"] for e in result.expected}), 4, "threads")
    others = assert_expected_rows(result, program, result.rows())
    # Rows from the workers' loops would be blocks lost or frees misattributed.
    strays = [r for r in others if "worker" in program_frames(r, program)]
    equal(strays, [], "rows from the workers' loops")


def test_threads_wrap():
    threads_in("wrap")


def test_threads_static():
    threads_in("static")


def test_threads_preload():
    threads_in("preload")


def exit_from_thread_in(form):
    program = build("threads.c", form)
    result = run(program, form, args=["exit"], timeout=120)
    equal(result.returncode, 7, "exit status")
    equal(result.stderr, "", "stderr")
    rows = result.rows()
    leaked = {e["address"] for e in result.expected}
    found = {r["address"] for r in rows if r["function"] == "leak"}
    check(leaked <= found, f"leaks not written: {sorted(leaked - found)}")
    for row in rows:
        frames = program_frames(row, program)
        check(row["address"] in leaked or not frames or "churn_forever" in frames,
              f"unexpected row {row['function']} {row['address']} {frames}")


def test_exit_from_thread_wrap():
    exit_from_thread_in("wrap")


def test_exit_from_thread_static():
    exit_from_thread_in("static")


def test_exit_from_thread_preload():
    exit_from_thread_in("preload")


def test_fork_while_exiting():
    """main calls exit while a thread is inside fork, past the tracer's prepare handler (a
    library's handler holds the fork there): exit removes the tracer's module's fork handlers
    as it finalizes it, and the process never ended (the parent handler, which releases the
    locks, was not run). In a loop, 2 exits in 500 of a program whose thread forks in a loop
    hung."""
    library = build_shared("fork_handlers_first.c", "libfork_handlers_first.so")
    for form in ("preload", "wrap"):
        program = build("fork_while_exiting.c", form, extra=[library, f"-Wl,-rpath,{WORK}"])
        result = run(program, form, timeout=30)
        equal((result.returncode, result.stderr), (7, ""), f"exit status, stderr ({form})")
        assert_expected_rows(result, program)


def test_more_calls_in_a_signal_handler_than_the_tracer_keeps():
    """A signal handler that frees 32 blocks while it interrupted the tracer: the tracer keeps
    16 calls to apply when it is done, and says once that it did not see the others (until
    01f1637 nothing was said, and the blocks freed there were written as leaks unexplained)."""
    message = ("malloc-trace: a signal handler made more than 16 calls of malloc and free while "
               "it interrupted one: the tracer did not see the others, and may write their "
               "blocks wrongly (a block freed there as a leak)\n")
    for form in FORMS:
        program = build("many_frees_in_a_signal_handler.c", form)
        result = run(program, form, timeout=120)
        equal((result.returncode, result.stdout, result.stderr),
              (0, "all 64000 blocks freed\n", message), f"exit status, stdout, stderr ({form})")
