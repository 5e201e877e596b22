"""The output file and the settings: header, append, truncation, %p, bad values, unsafe
paths, exit status, stack depth, unsymbolized frames."""
import glob
import os
import pwd
import re
import resource
import shutil
import stat
import subprocess
import tempfile
import time

from harness import (FORMS, HEADER, WORK, assert_expected_rows, build, check,
                     check_named_by_symbolize, equal, program_frames, read_trace, run)


def scratch_dir():
    return tempfile.mkdtemp(prefix="out.", dir=WORK)


def test_exit_status_and_header_only_file():
    program = build("leaker.c", "wrap")
    result = run(program, "wrap", args=["3", "0", "0"])
    equal(result.returncode, 3, "exit status")
    with open(result.trace_path) as trace:
        equal(trace.read(), HEADER + "\n", "a run with no event")
    equal(stat.S_IMODE(os.stat(result.trace_path).st_mode), 0o600, "file mode")


def test_relative_path_survives_chdir():
    """A relative out_file_path names a file in the directory the program started in, even
    after the program changes directory (as a daemon does): one file, every row."""
    for form in FORMS:
        program = build("leaker.c", form)
        start, elsewhere = scratch_dir(), scratch_dir()
        result = run(program, form, args=["0", "2", "30", elsewhere], trace="trace.csv",
                     cwd=start)
        equal(result.returncode, 0, f"exit status ({form})")
        equal(os.listdir(elsewhere), [], f"files where the program went ({form})")
        assert_expected_rows(result, program, read_trace(os.path.join(start, "trace.csv")))


def test_program_closes_every_descriptor():
    """A daemon's start closes every descriptor above 2, the tracer's and libunwind's among
    them, and its next opens are handed those numbers: the tracer writes to none of the
    program's files, closes none of them, and still writes every row. The stack of an
    allocation in a signal handler, which only libunwind walks, is cut to frame 0, with one
    message."""
    for form in FORMS:
        program = build("closes_descriptors.c", form)
        directory = scratch_dir()
        result = run(program, form, env={"malloc_second_peremption": "1"}, args=[directory])
        equal(result.returncode, 0, f"exit status ({form})")
        equal(result.stderr, "malloc-trace: the program closed libunwind's descriptors: stacks "
              "the unwind tables do not cover (signal frames, code without unwind information) "
              "keep frame 0 only\n", f"stderr ({form})")
        contents = {}
        for name in sorted(os.listdir(directory)):
            with open(os.path.join(directory, name)) as written:
                contents[name] = written.read()
        expected = {f"file-{i}": "first\nsecond\n" for i in range(16)}
        expected["stream-0"] = "written at exit\n"
        equal(contents, expected, f"the program's files ({form})")
        assert_expected_rows(result, program)


def test_limit_on_address_space():
    """Under a limit on address space (ulimit -v), the tracer's reservations leave the
    program room for its own large blocks: a block of 600 MiB under a limit of 1 GiB (the
    tracer's two regions of 4 GiB took the rest of it, and the program's malloc failed). The
    block gets its exit row: `leak`, or `reachable` where a stale word on the stack points
    into its 600 MiB."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    for form in FORMS:
        program = build("leaker.c", form)
        result = run(program, form, env={"MALLOC_TRACE_REACHABLE": "1"},
                     args=["0", "1", str(600 << 20)], preexec=limit)
        equal((result.returncode, result.stderr), (0, ""), f"exit status and stderr ({form})")
        address = result.expected[0]["address"]
        check(address.startswith("0x"), f"the program's malloc failed ({form}): {address}")
        rows = [(r["function"], r["size"]) for r in result.rows() if r["address"] == address]
        check(rows in ([("leak", 600 << 20)], [("reachable", 600 << 20)]),
              f"rows of the block ({form}): {rows}")


def test_program_started_without_standard_descriptors():
    """A program started with stdin, stdout and stderr closed gets the same descriptor
    numbers as untraced: neither the trace nor libunwind's pipe takes one of them (the
    program's stderr went into the trace)."""
    def close_standard():
        for fd in (0, 1, 2):
            os.close(fd)
    directory = scratch_dir()
    untraced = os.path.join(directory, "untraced")
    program = build("closed_standard_descriptors.c", "preload")
    equal(run(program, "none", args=[untraced], preexec=close_standard).returncode, 0,
          "exit status untraced")
    with open(untraced) as written:
        expected = written.read()
    equal(expected, "own 0, stderr -1 9\n", "untraced")
    for form in FORMS:
        program = build("closed_standard_descriptors.c", form)
        own = os.path.join(directory, form)
        result = run(program, form, args=[own], preexec=close_standard)
        equal(result.returncode, 0, f"exit status ({form})")
        with open(own) as written:
            equal(written.read(), expected, f"what the program wrote ({form})")
        equal(read_trace(result.trace_path), [], f"rows ({form})")


def test_exit_status_every_form():
    for form in FORMS:
        program = build("leaker.c", form)
        result = run(program, form, args=["42", "1", "10"])
        equal(result.returncode, 42, f"exit status ({form})")
        assert_expected_rows(result, program)


def test_append_without_second_header():
    program = build("leaker.c", "preload")
    trace = os.path.join(scratch_dir(), "shared.csv")
    first = run(program, "preload", args=["0", "2", "10"], trace=trace)
    second = run(program, "preload", args=["0", "3", "20"], trace=trace)
    with open(trace) as text:
        equal(text.read().count("function;thread_id"), 1, "headers")
    rows = read_trace(trace)
    mine = [r for r in rows if "main" in program_frames(r, program)]
    equal(len(mine), 5, "rows of both runs")
    equal(sorted(r["size"] for r in mine), [10, 10, 20, 20, 20], "sizes")
    check(first.expected and second.expected, "both runs printed their blocks")


def start_together(program, env, count):
    """Runs count copies of `program 0 1 10` that all start at once; their exit statuses."""
    read_end, write_end = os.pipe()
    children = []
    for _ in range(count):
        child = os.fork()
        if child == 0:
            os.close(write_end)
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            os.read(read_end, 1)  # returns when the parent closes its end: all at once
            os.execve(program, [program, "0", "1", "10"], env)
        children.append(child)
    os.close(read_end)
    os.close(write_end)
    return [os.waitpid(child, 0)[1] for child in children]


def test_processes_started_together_write_one_header():
    """Processes that start at once on one path, which none has created yet: each found the
    file empty, and until 10d511f each one that looked before the first header was written
    wrote one too (1 to 4 rounds in 40 of 100 static processes). The header is written under
    a lock on the file, once."""
    program = build("leaker.c", "static")
    trace = os.path.join(scratch_dir(), "together.csv")
    env = dict(os.environ, out_file_path=trace)
    for round_number in range(12):
        if os.path.exists(trace):
            os.unlink(trace)
        equal(start_together(program, env, 60), [0] * 60, f"exit statuses (round {round_number})")
        with open(trace) as text:
            lines = text.read().splitlines()
        equal((lines[0], lines.count(HEADER), len(lines)), (HEADER, 1, 61),
              f"the header, once; a leak row a process (round {round_number})")


def test_pid_in_path():
    program = build("leaker.c", "static")
    directory = scratch_dir()
    result = run(program, "static", args=["0", "1", "77"],
                 trace=os.path.join(directory, "trace.%p.csv"))
    pid = result.expected[0]["thread_id"]  # the main thread's id is the process id
    equal(os.listdir(directory), [f"trace.{pid}.csv"], "files written")
    assert_expected_rows(result, program, read_trace(os.path.join(directory,
                                                                  f"trace.{pid}.csv")))


def test_truncation_restarts_with_header():
    program = build("leaker.c", "wrap")
    for limit in ("1500", "0x5dc"):
        result = run(program, "wrap", args=["0", "40", "16"],
                      env={"out_file_max_size": limit})
        equal(result.stderr, "", "stderr")
        size = os.path.getsize(result.trace_path)
        check(0 < size <= 1500, f"file size {size} within {limit}")
        rows = read_trace(result.trace_path)
        check(rows, "rows after the truncation")
        expected = {e["address"] for e in result.expected}
        check({r["address"] for r in rows} <= expected, "rows are the program's leaks")
        with open(result.trace_path) as trace:
            equal(trace.read().count("function;thread_id"), 1, "headers")


def test_processes_flushing_together_keep_the_size_limit():
    """Processes that write their rows to one file at once, started together (each opens the
    file) or forked (sharing a descriptor): each found room under out_file_max_size at the
    size it had last seen, and until ce313d4 the file grew past the limit (six processes at
    once left 2,893 bytes under 1,024). The check and the write are under a lock on the file:
    the file stays within the limit, with one header, on the first line."""
    limit = 1200

    def check_file(trace, what):
        size = os.path.getsize(trace)
        check(0 < size <= limit, f"file size {size} within {limit} ({what})")
        with open(trace) as text:
            lines = text.read().splitlines()
        equal((lines[0], lines.count(HEADER)), (HEADER, 1), f"the header, once, first ({what})")
        check(len(read_trace(trace)) >= 1, f"rows ({what})")

    program = build("leaker.c", "static")
    trace = os.path.join(scratch_dir(), "together.csv")
    env = dict(os.environ, out_file_path=trace, out_file_max_size=str(limit))
    for round_number in range(6):
        if os.path.exists(trace):
            os.unlink(trace)
        equal(start_together(program, env, 16), [0] * 16, f"exit statuses (round {round_number})")
        check_file(trace, f"started together, round {round_number}")
    for form in FORMS:
        program = build("children_exit_together.c", form)
        for round_number in range(3):
            result = run(program, form, args=["16"], env={"out_file_max_size": str(limit)})
            equal((result.returncode, result.stderr), (0, ""),
                  f"exit status, stderr ({form}, round {round_number})")
            check_file(result.trace_path, f"forked, {form}, round {round_number}")


def test_a_sandbox_that_refuses_fcntl_on_the_trace():
    """A seccomp filter that allows fcntl only for a descriptor's flags, and then refuses
    openat too: the tracer cannot read its trace's owner mark any more, and until 0166e20
    took the file for gone at every flush, opened it again (a descriptor lost each time) and,
    where the open was refused, lost every row after. With openat refused, libdw cannot read
    the modules: the frames are MODULE+0xOFFSET, which symbolize names later (until e451cb0
    they were bare addresses in no module)."""
    scan = ("malloc-trace: the leak scan cannot run (no memory, or /proc/self/maps cannot be "
            "read: a chroot, a limit on descriptors): every block left is written as a leak\n")
    for form in FORMS:
        program = build("sandboxed_fcntl.c", form)
        for mode in ("fcntl", "open"):
            result = run(program, form, args=[mode], env={"malloc_second_peremption": "1"})
            said = [line for line in result.stdout.splitlines() if line.startswith("descr")]
            equal((result.returncode, said), (0, ["descriptors: as many"]),
                  f"exit status, descriptors ({form}, {mode})")
            equal(result.stderr, scan if mode == "open" else "", f"stderr ({form}, {mode})")
            leaks = sorted(r["size"] for r in result.rows() if r["function"] == "leak"
                           and r["size"] in (31, 47))
            equal(leaks, [31, 47], f"the two leaks' rows ({form}, {mode})")
            if mode == "open":  # libdw could not read /proc/self/maps, nor the modules
                check_named_by_symbolize(result, program, 47, ["leak", "main"], form)


def test_a_worker_whose_parent_exited_keeps_its_trace():
    """A daemon's worker, forked by the process that opened the trace, which then exits; the
    worker drops its privileges and cannot open the trace again: it writes through the
    descriptor it shares. Until e203f88 the file's mark was its opener's pid, which reads 0
    once that process is reaped: the worker took the descriptor for another file, said
    `cannot open ...: Permission denied` and lost every row."""
    if os.geteuid() != 0:
        return  # setuid needs root; CI runs as root
    for form in FORMS:
        program = build("worker_outlives_its_parent.c", form)
        result = run(program, form)
        equal((result.returncode, result.stderr), (0, ""), f"exit status, stderr ({form})")
        deadline = time.monotonic() + 30
        rows = []
        while time.monotonic() < deadline:
            rows = [r for r in read_trace(result.trace_path)
                    if r["function"] == "leak" and r["size"] == 77]
            if rows:
                break
            time.sleep(0.1)
        equal(len(rows), 1, f"the worker's leak row ({form})")


def test_a_daemon_that_closes_every_descriptor_then_drops_its_privileges():
    """dnsmasq's start: the program closes every descriptor it did not open (the trace's among
    them), then drops its privileges to nobody, and leaks: the tracer opens its file again
    before setgid, while it still may, and the leak is written; as for a child forked after
    the close that drops them itself (the parent's file, shared). With %p the process's own
    file is given to nobody with it. Until fa97115 the file was opened again at the next
    flush only, as nobody: `cannot open ...: Permission denied`, and no row."""
    if os.geteuid() != 0:
        return  # setuid needs root; CI runs as root
    for form in FORMS:
        program = build("closes_everything_then_drops_privileges.c", form)
        result = run(program, form)
        equal((result.returncode, result.stderr), (0, ""), f"exit status, stderr ({form})")
        equal(assert_expected_rows(result, program), [], f"other rows ({form})")
        result = run(program, form, args=["fork"])
        equal((result.returncode, result.stderr), (0, ""),
              f"forked: exit status, stderr ({form})")
        equal(assert_expected_rows(result, program), [], f"forked: other rows ({form})")
        template = tempfile.mktemp(prefix="trace.", suffix=".%p.csv", dir=WORK)
        result = run(program, form, trace=template)
        equal((result.returncode, result.stderr), (0, ""), f"%p: exit status, stderr ({form})")
        files = glob.glob(template.replace("%p", "*"))
        equal(len(files), 1, f"%p: files ({form})")
        equal(os.stat(files[0]).st_uid, 65534, f"%p: the file's owner ({form})")
        equal(assert_expected_rows(result, program, read_trace(files[0])), [],
              f"%p: other rows ({form})")


def test_a_daemon_that_runs_as_another_user_for_a_while():
    """seteuid(nobody), then seteuid(0) back, then the program closes every descriptor it did
    not open and leaks: with %p the process's own file is root's again after the second call,
    root opens it again, and the leak is written. Until 3cb83a6 the file stayed nobody's
    (giving it back ran before the call, as nobody, and failed): `owned by another user, not
    writing to`, no row."""
    if os.geteuid() != 0:
        return  # seteuid needs root; CI runs as root
    for form in FORMS:
        program = build("drops_privileges_for_a_while.c", form)
        template = tempfile.mktemp(prefix="trace.", suffix=".%p.csv", dir=WORK)
        result = run(program, form, trace=template)
        equal((result.returncode, result.stdout.splitlines()[0], result.stderr),
              (0, "EUID 65534", ""), f"exit status, stdout, stderr ({form})")
        files = glob.glob(template.replace("%p", "*"))
        equal(len(files), 1, f"files ({form})")
        equal((os.stat(files[0]).st_uid, os.stat(files[0]).st_gid), (0, 0),
              f"the file's owner ({form})")
        equal(assert_expected_rows(result, program, read_trace(files[0])), [],
              f"other rows ({form})")


def test_a_worker_that_goes_into_a_chroot_writes_its_own_file():
    """A daemon forks a worker that allocates, goes into a chroot and leaks there, with %p in
    the trace's path: the worker's own file is opened before the chroot, and holds its two
    leaks, named (the stacks so far are named before the chroot, which leaves the modules'
    files open for the one allocated in it); the parent's holds its own. Until fa97115 the worker opened its file at its first
    flush, inside the chroot: `cannot open ...: No such file or directory`, every row of the
    worker lost (unbound's and haproxy's daemons)."""
    if os.geteuid() != 0:
        return  # chroot needs root; CI runs as root
    for form in FORMS:
        program = build("worker_chroots_itself.c", form)
        root = tempfile.mkdtemp(prefix="chroot.", dir=WORK)
        template = tempfile.mktemp(prefix="trace.", suffix=".%p.csv", dir=WORK)
        result = run(program, form, args=[root], trace=template)
        equal((result.returncode, result.stderr), (0, ""), f"exit status, stderr ({form})")
        leaks = {}
        for path in sorted(glob.glob(template.replace("%p", "*"))):
            leaks[path] = sorted((r["size"], r["thread_id"]) for r in read_trace(path)
                                 if r["function"] == "leak" and "leak" in program_frames(r, program))
        sizes = {e["size"]: e["thread_id"] for e in result.expected}
        parent, child = sizes[33], sizes[21]
        equal(sorted(leaks.values()), sorted([[(33, parent)], [(21, child), (22, child)]]),
              f"the leaks in each process's file ({form})")


def test_row_larger_than_the_limit_is_dropped_once():
    program = build("leaker.c", "preload")
    result = run(program, "preload", args=["0", "5", "16"], env={"out_file_max_size": "100"})
    lines = result.stderr.splitlines()
    equal(len(lines), 1, f"messages: {lines}")
    check(re.fullmatch(r"malloc-trace: a row of \d+ bytes cannot fit in out_file_max_size "
                       r"\(100 bytes\): such rows are dropped", lines[0]), lines[0])
    with open(result.trace_path) as trace:
        equal(trace.read(), HEADER + "\n", "only the header fits")


BAD_SETTINGS = {
    "malloc_second_peremption": ["abc", "-5", "0", "", "99999999999999999999", "1.5"],
    "out_file_max_size": ["", "-1", "0", "0x", "12k", "0x1g", "184467440737095516160"],
    "MALLOC_TRACE_DEPTH": ["0", "257", "x", "", "1\n2"],
    "MALLOC_TRACE_SYMBOLS": ["2", "yes", ""],
}


def test_bad_settings_are_reported_once_and_ignored():
    program = build("leaker.c", "wrap")
    for name, values in BAD_SETTINGS.items():
        for value in values:
            result = run(program, "wrap", args=["5", "1", "10"], env={name: value})
            equal(result.returncode, 5, f"exit status with {name}={value!r}")
            lines = result.stderr.splitlines()
            equal(len(lines), 1, f"messages for {name}={value!r}: {lines}")
            check(lines[0].startswith(f"malloc-trace: {name}: "), lines[0])
            assert_expected_rows(result, program)


def test_empty_path_uses_default_with_message():
    program = build("leaker.c", "wrap")
    result = run(program, "wrap", args=["0", "0", "0"], env={"out_file_path": ""})
    equal(result.stderr, "malloc-trace: out_file_path: empty; using /tmp/malloc-trace.csv\n",
          "stderr")


def test_depth_limits_frames():
    program = build("leaker.c", "preload")
    result = run(program, "preload", args=["0", "1", "10"], env={"MALLOC_TRACE_DEPTH": "3"})
    row = next(r for r in result.rows() if r["address"] == result.expected[0]["address"])
    equal([f["f"] for f in row["stack"]], ["malloc", "leaf", "middle"], "frames")


def program_frames_to_main(row):
    names = []
    for frame in row["stack"]:
        names.append(frame["f"])
        if frame["f"] == "main":
            break
    return names


def test_frame_pointer_unwinder_gives_the_same_frames():
    # Every call of events.c comes from the program (built at -O0: with frame pointers) and
    # in the wrap forms enters the tracer directly: the walk gives libunwind's frames.
    for form in ("wrap", "static"):
        program = build("events.c", form)
        walked = run(program, form, env={"MALLOC_TRACE_UNWIND": "fp"})
        unwound = run(program, form, env={"MALLOC_TRACE_UNWIND": "libunwind"})
        equal((walked.returncode, walked.stderr), (0, ""), f"exit status, stderr ({form})")
        equal(len(walked.expected), len(unwound.expected), "EXPECT lines")
        for mine, theirs in zip(walked.expected, unwound.expected):
            row = next(r for r in walked.rows() if r["address"] == mine["address"])
            other = next(r for r in unwound.rows() if r["address"] == theirs["address"])
            check(len(row["stack"]) > 2, f"frames of {mine}")
            equal(program_frames_to_main(row), program_frames_to_main(other),
                  f"frames of {mine['kind']} {mine['size']} ({form})")
    result = run(build("leaker.c", "preload"), "preload", args=["0", "0", "0"],
                 env={"MALLOC_TRACE_UNWIND": "dwarf"})
    equal(result.stderr, "malloc-trace: MALLOC_TRACE_UNWIND: 'dwarf' is not tables, libunwind "
          "or fp; using tables\n", "a bad value")


def test_unsymbolized_frames_name_module_and_offset():
    for form in ("wrap", "static"):
        program = build("leaker.c", form)
        result = run(program, form, args=["0", "1", "10"], env={"MALLOC_TRACE_SYMBOLS": "0"})
        row = next(r for r in result.rows() if r["address"] == result.expected[0]["address"])
        frames = row["stack"][1:4]
        for frame in frames:
            equal(frame["m"], program, "module")
            check(frame["f"].startswith(program + "+0x"), frame["f"])
            equal((frame["s"], frame["l"]), ("", 0), "source and line")
        offsets = [f["f"].split("+")[-1] for f in frames]
        names = subprocess.run(["addr2line", "-f", "-e", program, *offsets],
                               capture_output=True, text=True, check=True).stdout.split()[::2]
        equal(names, ["leaf", "middle", "outer"], f"addr2line of the offsets ({form})")


def refused(path_setup, expected_message):
    """The program runs unchanged, the tracer says once why it does not write."""
    program = build("leaker.c", "wrap")
    directory = scratch_dir()
    os.chmod(directory, 0o755)
    path = os.path.join(directory, "trace.csv")
    path_setup(directory, path)
    result = run(program, "wrap", args=["9", "2", "10"], trace=path, timeout=20)
    equal(result.returncode, 9, "exit status")
    equal(len(result.expected), 2, "the program ran")
    lines = result.stderr.splitlines()
    equal(len(lines), 1, f"messages: {lines}")
    check(expected_message in lines[0] and path in lines[0], lines[0])
    return directory, path


def test_symbolic_link_is_not_followed():
    def setup(directory, path):
        with open(os.path.join(directory, "target"), "w") as target:
            target.write("precious\n")
        os.symlink(os.path.join(directory, "target"), path)
    directory, _ = refused(setup, "refusing to follow a symbolic link")
    with open(os.path.join(directory, "target")) as target:
        equal(target.read(), "precious\n", "the link's target")


def test_file_of_another_user_is_not_appended_to():
    nobody = pwd.getpwnam("nobody")

    def setup(directory, path):
        with open(path, "w") as other:
            other.write("theirs\n")
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    if os.geteuid() != 0:
        return  # only root can give a file away; CI runs as root
    _, path = refused(setup, "owned by another user")
    with open(path) as other:
        equal(other.read(), "theirs\n", "the other user's file")


def test_fifo_is_refused_without_hanging():
    """The refusal is its own reason: no error's text after it (ENXIO's "No such device or
    address" ended the line)."""
    _, path = refused(lambda directory, path: os.mkfifo(path), "not a regular file")
    program = build("leaker.c", "wrap")
    result = run(program, "wrap", args=["9", "2", "10"], trace=path, timeout=20)
    equal(result.stderr, f"malloc-trace: not a regular file, not writing to {path}\n", "stderr")


def test_directory_is_refused():
    refused(lambda directory, path: os.mkdir(path), "cannot open")


def test_missing_directory_is_reported():
    def setup(directory, path):
        shutil.rmtree(directory)
    refused(setup, "cannot open")


def test_message_about_a_path_stays_one_line():
    """A control character in out_file_path (a newline in a directory that does not exist)
    is shown as \\xHH: the message about the path is one line (it was two)."""
    program = build("leaker.c", "wrap")
    path = os.path.join(scratch_dir(), "no\nsuch", "trace.csv")
    result = run(program, "wrap", args=["9", "2", "10"], trace=path, timeout=20)
    shown = path.replace("\n", "\\x0a")
    equal((result.returncode, result.stderr),
          (9, f"malloc-trace: cannot open {shown}: No such file or directory\n"),
          "exit status, stderr")


def run_preloaded_under_size_limit(program, args, trace, limit, env=None):
    """Runs program under the preload library, writing to trace, with RLIMIT_FSIZE at limit
    bytes; stdout and stderr as bytes."""
    def set_limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    full_env = dict(os.environ, out_file_path=trace,
                    LD_PRELOAD=os.path.join(os.environ["MT_STAGE"], "lib", "malloc-trace.so"))
    full_env.update(env or {})
    return subprocess.run([program, *args], env=full_env, capture_output=True,
                          preexec_fn=set_limit, timeout=60)


def test_file_already_at_its_size_limit_is_left_alone():
    """A file that the program's RLIMIT_FSIZE leaves no room in: a write there raises
    SIGXFSZ for the whole process, which killed the program (status -25, whatever thread
    wrote); now nothing is written, and the limit is said once."""
    program = build("leaker.c", "preload")
    trace = os.path.join(scratch_dir(), "at_limit.csv")
    with open(trace, "w") as out:
        out.write(HEADER + "\n" + "x" * (8192 - len(HEADER) - 2) + "\n")
    completed = run_preloaded_under_size_limit(program, ["6", "1000", "10"], trace, 8192)
    equal((completed.returncode, completed.stderr.decode().splitlines(), os.path.getsize(trace)),
          (6, [f"malloc-trace: cannot write {trace}: File too large"], 8192),
          "exit status, messages, file size")


def test_messages_stay_in_english_in_another_locale():
    """A program in a German Latin-1 locale, whose trace file is at its size limit at exit:
    the message is English (strerror translated it, loading a gconv module with dlopen under
    the exit pass's stdio lock, which could wait for ever for a thread in dlopen)."""
    locales = os.path.join(scratch_dir(), "locales")
    os.mkdir(locales)
    subprocess.run(["localedef", "-i", "de_DE", "-f", "ISO-8859-1",
                    os.path.join(locales, "de_DE.ISO-8859-1")], check=True, capture_output=True)
    program = build("leaker_in_a_locale.c", "preload")
    trace = os.path.join(scratch_dir(), "localized.csv")
    with open(trace, "w") as out:
        out.write(HEADER + "\n")
    locale = {"LOCPATH": locales, "LANG": "de_DE.ISO-8859-1", "LC_ALL": "de_DE.ISO-8859-1",
              "LANGUAGE": ""}
    completed = run_preloaded_under_size_limit(program, [], trace, len(HEADER) + 1, locale)
    check(completed.stdout not in (b"", b"File too large\n"),
          f"the locale translates strerror (libc-l10n): {completed.stdout!r}")
    equal((completed.returncode, completed.stderr.decode("latin-1").splitlines()),
          (6, [f"malloc-trace: cannot write {trace}: File too large"]), "exit status, messages")


def test_file_size_limit_cuts_back_to_whole_lines():
    program = build("leaker.c", "preload")
    trace = os.path.join(scratch_dir(), "limited.csv")
    completed = run_preloaded_under_size_limit(program, ["6", "1000", "10"], trace, 8192)
    equal(completed.returncode, 6, "exit status (no SIGXFSZ)")
    lines = completed.stderr.decode().splitlines()
    equal(len(lines), 1, f"messages: {lines}")
    # The cause is the limit, not a full disk (it said "No space left on device"); "all of"
    # unless the limit fell on the end of a line.
    check(re.fullmatch(f"malloc-trace: cannot write( all of)? {re.escape(trace)}: File too large",
                       lines[0]), lines[0])
    check(os.path.getsize(trace) <= 8192, "size within the limit")
    rows = read_trace(trace)  # every line whole
    check(len(rows) > 3, f"rows before the limit: {len(rows)}")
