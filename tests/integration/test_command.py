"""The malloc-trace command: report (golden files), check (the gate, suppressions, JUnit,
bad input), run (exit status, signals, standard streams, descendants)."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import xml.etree.ElementTree as ElementTree

from harness import (FORMS, HEADER, ROOT, STAGE, WORK, build, check, check_module_offset_frames,
                     equal, read_trace, run)

GOLDEN = os.path.join(ROOT, "tests", "golden", "report")
INPUT = os.path.join(GOLDEN, "input.csv")


def command():
    return os.path.join(STAGE, "bin", "malloc-trace")  # the installed tree: ../lib


def mt(*arguments, cwd=None, stdin=None, timeout=120, preload=None):
    """The command, with preload (or nothing) in LD_PRELOAD."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if preload is not None:
        env["LD_PRELOAD"] = preload
        if "ASAN_OPTIONS" in env:
            # The asan build of the command (test_sanitizers.py) refuses to start with a
            # library loaded before its runtime.
            env["ASAN_OPTIONS"] += ":verify_asan_link_order=0"
    return subprocess.run([command(), *arguments], capture_output=True, text=True, cwd=cwd,
                          input=stdin, timeout=timeout, env=env)


def golden(name):
    with open(os.path.join(GOLDEN, name)) as text:
        return text.read()


def test_report_golden():
    for arguments, name in ((["report", INPUT], "text.out"),
                            (["report", "--format", "folded", INPUT], "folded.out"),
                            (["report", "--format", "json", "--top", "2", INPUT],
                             "json-top2.out")):
        result = mt(*arguments)
        equal((result.returncode, result.stderr), (0, ""), f"{arguments}")
        equal(result.stdout, golden(name), f"output of {' '.join(arguments[:-1])}")


def test_report_settles_rows_across_files_in_order():
    directory = tempfile.mkdtemp(prefix="cmd.", dir=WORK)
    first, second = os.path.join(directory, "1.csv"), os.path.join(directory, "2.csv")
    frame = '[{"f":"malloc","s":"","l":0,"m":""},{"f":"x","s":"x.c","l":1,"m":"/x"}]'
    with open(first, "w") as text:
        text.write(f"{HEADER}\nmalloc;1;0x10;8;1;{frame}\nmalloc;1;0x20;16;2;{frame}\n")
    with open(second, "w") as text:
        text.write(f"{HEADER}\nfree;1;0x10;8;3;{frame}\n")
    result = mt("report", "--format", "json", first, second)
    equal(result.returncode, 0, "exit status")
    check('"total_bytes": 16' in result.stdout, result.stdout)
    result = mt("report", "--format", "json", second, first)  # the free comes first now
    check('"total_bytes": 24' in result.stdout, result.stdout)


def test_check_gate_and_suppressions():
    failing = mt("check", INPUT)
    equal(failing.returncode, 1, "leaks fail the gate")
    check(failing.stdout.startswith("malloc-trace check: 8232 bytes leaked in 4 blocks from "
                                    "4 stacks (allowed: 0)"), failing.stdout)
    suppressed = mt("check", INPUT, "--suppressions", os.path.join(GOLDEN, "suppressions.txt"),
                    "--max-leaked-bytes", "8192")
    equal((suppressed.returncode, suppressed.stdout), (0, golden("check-suppressed.out")),
          "within the allowance after suppressions")
    equal(mt("check", INPUT, "--max-leaked-bytes", "8231").returncode, 1, "one byte over")
    equal(mt("check", INPUT, "--max-leaked-bytes", "8232").returncode, 0, "exactly allowed")
    equal(mt("check", INPUT, "--max-leaked-bytes", "8232", "--fail-on-free").returncode, 1,
          "an orphan free fails with --fail-on-free")


def test_suppression_patterns():
    directory = tempfile.mkdtemp(prefix="supp.", dir=WORK)
    cases = [("leak:leak_site", 24 + 16), ("leak:^leak_", 24 + 16), ("leak:site$", 24 + 16),
             ("leak:^site", 8232), ("leak:parse.c", 24 + 16), ("leak:/src/*.c", 0),
             ("leak:^cache::*insert", 8232 - 24), ("leak:/usr/lib/libthird.so", 8232 - 16),
             ("leak:malloc", 24), ("leak:operator new", 8232 - 24), ("leak:", 0),
             ("leak:*", 0)]
    for pattern, leaked in cases:
        path = os.path.join(directory, "s.txt")
        with open(path, "w") as text:
            text.write(f"# a comment\n\n  {pattern}  \n")
        result = mt("check", INPUT, "--suppressions", path, "--max-leaked-bytes", "100000")
        equal(result.returncode, 0, f"exit status with {pattern}")
        check(result.stdout.startswith(f"malloc-trace check: {leaked} bytes leaked"),
              f"{pattern}: {result.stdout.splitlines()[0]}")
    # An empty free: pattern suppresses every orphan free, so --fail-on-free passes.
    path = os.path.join(directory, "s.txt")
    for pattern, status in (("free:", 0), ("free:zzz_nomatch", 1)):
        with open(path, "w") as text:
            text.write(f"{pattern}\n")
        result = mt("check", INPUT, "--suppressions", path, "--max-leaked-bytes", "100000",
                    "--fail-on-free")
        equal(result.returncode, status, f"exit status with {pattern} and --fail-on-free")


def test_junit_report():
    path = os.path.join(WORK, "junit.xml")
    result = mt("check", INPUT, "--junit", path)
    equal(result.returncode, 1, "exit status")
    suite = ElementTree.parse(path).getroot()
    equal((suite.tag, suite.get("tests"), suite.get("failures")), ("testsuite", "4", "4"),
          "suite")
    names = [case.get("name") for case in suite.iter("testcase")]
    equal(names, ["leak_site (/src/leak.c:40)", "leak_site (/src/leak.c:40)",
                  "cache::Store::insert(std::string const&) (/src/cache.cpp:17)",
                  "main (/src/main.c:6)"],
          "one test case per leaking stack, named after its first frame outside the system "
          "libraries")
    equal(len(list(suite.iter("failure"))), 4, "failures")
    passing = mt("check", INPUT, "--junit", path, "--max-leaked-bytes", "10000")
    equal(passing.returncode, 0, "exit status")
    suite = ElementTree.parse(path).getroot()
    equal((suite.get("tests"), suite.get("errors"), len(list(suite.iter("failure")))),
          ("4", "0", 0), "a passing gate")
    # No verdict, no pass (until 1a3b9f6 a damaged trace gave a suite of no failures, and a
    # missing one left the last run's file): a test case of its own holds the error.
    damaged = os.path.join(WORK, "junit-damaged.csv")
    with open(INPUT) as given, open(damaged, "w") as cut:
        cut.write(given.read() + "leak;1;0x10;8;1")
    for paths, message in [([damaged], "the input is damaged: no verdict"),
                           ([INPUT, damaged + ".none"], "a trace could not be read: no verdict")]:
        result = mt("check", *paths, "--junit", path, "--max-leaked-bytes", "10000")
        equal(result.returncode, 2, f"exit status for {paths}")
        suite = ElementTree.parse(path).getroot()
        errors = [(case.get("name"), error.get("message")) for case in suite.iter("testcase")
                  for error in case.iter("error")]
        equal((suite.get("tests"), suite.get("errors"), errors),
              ("5" if len(paths) == 1 else "1", "1", [("input", message)]),
              f"the suite for {paths}")


BAD_LINES = [
    ("leak;1;0x10;8;1", "fewer than 6 fields"),
    ("oops;1;0x10;8;1;[]", "unknown event (not malloc, free, leak, indirect or reachable)"),
    ("leak;1;0x1G;8;1;[]", "address is not 0x and lower-case hex"),
    ("leak;1;10;8;1;[]", "address is not 0x and lower-case hex"),
    ("leak;one;0x10;8;1;[]", "thread_id is not a thread id"),
    ("leak;1;0x10;-8;1;[]", "size is not a whole number"),
    ("leak;1;0x10;8;1;{}", "callstack is not a JSON array"),
    ('leak;1;0x10;8;1;[{"f":"malloc","s":"","l":0', "invalid callstack JSON: "),
    ('leak;1;0x10;8;1;[{"f":1,"s":"","l":0,"m":""}]',
     'invalid callstack JSON: callstack frame without "f", "s" and "l"'),
]


def test_bad_input_is_named_and_exits_2():
    directory = tempfile.mkdtemp(prefix="bad.", dir=WORK)
    good = '[{"f":"malloc","s":"","l":0,"m":""}]'
    for line, reason in BAD_LINES:
        path = os.path.join(directory, "bad.csv")
        with open(path, "w") as text:
            text.write(f"{HEADER}\n{line}\nleak;1;0x20;8;1;{good}\n")
        for subcommand in ("report", "check"):
            result = mt(subcommand, path)
            equal(result.returncode, 2, f"{subcommand} exit status for {line!r}")
            message = result.stderr.splitlines()[0]
            check(message.startswith(f"{path}:2: {reason}"), f"{line!r}: {message}")
        check("8 bytes" in mt("report", path).stdout, "the rest of the file is still read")
    cut = os.path.join(directory, "cut.csv")
    with open(cut, "w") as text:
        text.write(f"{HEADER}\nleak;1;0x20;8;1;{good}")
    equal(mt("check", cut).stderr, f"{cut}:2: the line is cut (no line end)\n", "a cut line")
    empty = os.path.join(directory, "empty.csv")
    open(empty, "w").close()
    result = mt("check", empty)
    equal((result.returncode, result.stderr.splitlines()[0]),
          (2, f"{empty}:1: not a malloc-trace file (empty)"), "an empty file")
    noheader = os.path.join(directory, "noheader.csv")
    with open(noheader, "w") as text:
        text.write(f"leak;1;0x20;8;1;{good}\n")
    result = mt("report", noheader)
    equal((result.returncode, result.stderr),
          (2, f"{noheader}:1: not a malloc-trace file (the first line is not the header)\n"),
          "no header")
    crlf = os.path.join(directory, "crlf.csv")
    with open(crlf, "w", newline="\r\n") as text:
        text.write(f"{HEADER}\nleak;1;0x20;8;1;{good}\n")
    result = mt("check", crlf)
    equal((result.returncode, result.stderr), (1, ""), "CRLF line ends are read")
    result = mt("report", directory)
    equal((result.returncode, result.stderr), (2, f"malloc-trace: {directory}: Is a directory\n"),
          "a directory")
    missing = os.path.join(directory, "missing.csv")
    result = mt("check", INPUT, missing)
    equal((result.returncode, result.stdout, result.stderr),
          (2, "", f"malloc-trace: {missing}: No such file or directory\n"), "a missing file")
    for arguments in (["check", "--frobnicate", INPUT], ["report", "--format", "xml", INPUT],
                      ["report", "--top", "x", INPUT], ["check", INPUT, "--max-leaked-bytes",
                                                        "-1"], ["bogus"], []):
        result = mt(*arguments)
        equal(result.returncode, 2, f"exit status of {arguments}")
        check(result.stderr, f"a message for {arguments}")


def test_help_and_option_errors_of_every_subcommand():
    """-h and --help print the subcommand's usage on stdout (exit 0); an unknown option, or
    one without its value, is one line on stderr that names it, then the usage (exit 2); a
    letter in a cluster is named by itself (029b0d9 named the argument before the cluster).
    At e7c371d --help was an unknown option, and getopt's own message came on a line of its
    own before the usage."""
    usages = {
        "run": "usage: malloc-trace run [-o FILE] [-p SECONDS] [--fail-on-leak] -- PROGRAM "
               "[ARGS...]",
        "report": "usage: malloc-trace report [--top N] [--format text|json|folded|svg] FILE...",
        "check": "usage: malloc-trace check FILE... [--suppressions FILE] "
                 "[--max-leaked-bytes N] [--fail-on-free] [--junit FILE]",
        "symbolize": "usage: malloc-trace symbolize [--sysroot DIR] FILE... -o OUT",
    }
    for subcommand, usage in usages.items():
        for flag in ("-h", "--help"):
            result = mt(subcommand, flag)
            equal((result.returncode, result.stdout, result.stderr), (0, usage + "\n", ""),
                  f"{subcommand} {flag}")
    refusals = [
        (["run", "-x", "true"], "run: unknown option '-x'", "run"),
        (["run", "--bogus=1", "true"], "run: unknown option '--bogus=1'", "run"),
        (["run", "-o"], "run: option '-o' needs a value", "run"),
        (["run", "--period"], "run: option '--period' needs a value", "run"),
        (["run", "--out"], "run: option '--output' needs a value", "run"),
        (["run", "--fail-on-leak", "-xy", "--", "true"], "run: unknown option '-x'", "run"),
        (["check", "-s", INPUT], "check: unknown option '-s'", "check"),
        (["check", INPUT, "--junit"], "check: option '--junit' needs a value", "check"),
        (["report", "--top"], "report: option '--top' needs a value", "report"),
        (["symbolize", "--sysroot"], "symbolize: option '--sysroot' needs a value",
         "symbolize"),
        (["symbolize", "-q", INPUT], "symbolize: unknown option '-q'", "symbolize"),
        # named "-f" and "-h", options that do not exist, until 1a3b9f6
        (["run", "--fail-on-leak=1", "true"], "run: option '--fail-on-leak' takes no value",
         "run"),
        (["check", INPUT, "--fail-on-free=x"], "check: option '--fail-on-free' takes no value",
         "check"),
        (["report", "--help=1"], "report: option '--help' takes no value", "report"),
    ]
    for arguments, message, subcommand in refusals:
        result = mt(*arguments)
        equal((result.returncode, result.stdout, result.stderr),
              (2, "", f"malloc-trace {message}; {usages[subcommand]}\n"), f"{arguments}")


def test_run_exit_status_trace_and_report():
    program = build("leaker.c", "preload")
    directory = tempfile.mkdtemp(prefix="run.", dir=WORK)
    result = mt("run", "--", program, "3", "2", "64", cwd=directory)
    equal(result.returncode, 3, "the program's exit status")
    files = os.listdir(directory)
    equal(len(files), 1, f"files written: {files}")
    check(re.fullmatch(r"malloc-trace\.\d+\.csv", files[0]), files[0])
    pid = files[0].split(".")[1]
    check(f"malloc-trace: trace written to {directory}/malloc-trace.{pid}.csv" in result.stderr,
          result.stderr)
    check("leak: 128 bytes in 2 blocks" in result.stderr, result.stderr)
    check("#1 leaf (" in result.stderr, result.stderr)
    equal(result.stdout.count("EXPECT leak"), 2, "the program's standard output")
    rows = read_trace(os.path.join(directory, files[0]))
    equal(sorted(r["size"] for r in rows if r["stack"][1]["f"] == "leaf"), [64, 64], "rows")


def test_run_output_period_and_fail_on_leak():
    program = build("periodic.c", "preload")
    trace = os.path.join(WORK, "run-late.csv")
    with open(trace, "w") as old:
        old.write("an old file\n")
    result = mt("run", "-o", trace, "-p", "1", "--fail-on-leak", "--", program, "late")
    equal(result.returncode, 23, "a leak fails the run with --fail-on-leak")
    functions = [r["function"] for r in read_trace(trace) if len(r["stack"]) > 1]
    check("malloc" in functions, f"-p 1 wrote suspects: {functions}")
    leaker = build("leaker.c", "preload")
    clean = mt("run", "-o", trace, "--fail-on-leak", "--", leaker, "0", "0", "0")
    equal(clean.returncode, 0, "no leak: the program's status")
    failing = mt("run", "-o", trace, "--fail-on-leak", "--", leaker, "5", "1", "8")
    equal(failing.returncode, 5, "a failing program keeps its own status")


def test_run_signals_streams_and_descendants():
    killed = mt("run", "-o", os.path.join(WORK, "killed.csv"), "--", "/bin/sh", "-c",
                "kill -TERM $$")
    equal(killed.returncode, 128 + signal.SIGTERM, "killed by a signal: 128+N")
    echoed = mt("run", "-o", os.path.join(WORK, "cat.csv"), "--", "/bin/cat", stdin="hello\n")
    equal((echoed.returncode, echoed.stdout), (0, "hello\n"), "standard input and output")
    children = mt("run", "-o", os.path.join(WORK, "sh.csv"), "--", "/bin/sh", "-c",
                  "printenv LD_PRELOAD || echo untraced")
    equal(children.stdout, "untraced\n", "descendants run untraced")
    missing = mt("run", "--", "/nonexistent/program")
    equal((missing.returncode, missing.stderr),
          (127, "malloc-trace run: cannot run /nonexistent/program: No such file or directory\n"),
          "a program that cannot be run: one line (a second said no trace was written)")
    for period in ("0", " 5", "+5", "\t5", "5 "):
        result = mt("run", "-p", period, "--", "/bin/true")
        equal((result.returncode, result.stderr),
              (2, "malloc-trace run: -p takes a whole number of seconds from 1 to 31622400, "
                  f"not '{period}'\n"), f"the period {period!r} (the tracer refuses it)")
    result = mt("run", "-o", "", "--", "/bin/true")
    equal((result.returncode, result.stderr),
          (2, "malloc-trace run: -o takes a file name, not an empty one\n"), "an empty -o")


def test_run_leaves_the_programs_bash_starts_untraced():
    """bash defines getenv, setenv and unsetenv of its own, whose setenv and unsetenv change
    nothing before its main has read the environment: until 2b9614d the tracer's constructor
    called them to take its settings out, and every program a bash script started was traced
    into the run's trace (a leak of sort's failed --fail-on-leak). The user's own LD_PRELOAD
    stays."""
    libc = subprocess.run(["gcc", "-print-file-name=libc.so.6"], capture_output=True,
                          text=True, check=True).stdout.strip()
    leaker = build("leaker.c", "preload")
    trace = os.path.join(WORK, "bash.csv")
    # What bash itself sees, and a bash it starts: a program it starts (printenv, say) would
    # take the settings out of its own environment when traced.
    script = ('echo "[$LD_PRELOAD] [$out_file_path] [$malloc_second_peremption] '
              f'[$MALLOC_TRACE_RUN]"; {leaker} 0 1 100 > /dev/null; '
              """bash -c 'echo "[$LD_PRELOAD] [$out_file_path]"'""")
    result = mt("run", "-o", trace, "-p", "5", "--fail-on-leak", "--", "/bin/bash", "-c",
                script, preload=libc)
    equal((result.returncode, result.stdout), (0, f"[{libc}] [] [] []\n[{libc}] []\n"),
          "the environment bash and its children have, and no leak of theirs")
    modules = {frame["m"] for row in read_trace(trace) for frame in row["stack"]}
    check(leaker not in modules, f"no row of the leaker: {sorted(modules)}")


def test_run_passes_signals_on_and_survives_a_closed_stderr():
    """SIGUSR1 sent to `run` reaches the program (it killed `run` and left the program
    running), and a stderr whose reader is gone does not kill `run` before it returns the
    program's status (SIGPIPE gave 141)."""
    program = build("waits_for_a_signal.c", "preload")
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    for sent, status in ((signal.SIGUSR1, 7),):
        process = subprocess.Popen([command(), "run", "-o", os.path.join(WORK, "signal.csv"),
                                    "--", program], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True, env=env)
        equal(process.stdout.readline(), "READY\n", "the program runs")
        process.send_signal(sent)
        equal(process.wait(timeout=60), status, f"the program's status after {sent.name}")
    read_end, write_end = os.pipe()
    os.close(read_end)
    closed = subprocess.run([command(), "run", "-o", os.path.join(WORK, "pipe.csv"), "--",
                             "/bin/sh", "-c", "exit 3"], stderr=write_end, env=env,
                            timeout=60)
    os.close(write_end)
    equal(closed.returncode, 3, "the program's status, with stderr's reader gone")
    # Started with SIGCHLD ignored, `run` lost the program's status ("waitpid: No child
    # processes", exit 2) until 1a3b9f6; the program still finds it ignored.
    ignoring = subprocess.run(
        [command(), "run", "-o", os.path.join(WORK, "sigchld.csv"), "--", "/usr/bin/python3",
         "-S", "-c", "import signal, sys; "
         "sys.exit(5 if signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN else 6)"],
        stderr=subprocess.PIPE, text=True, env=env, timeout=60,
        preexec_fn=lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN))
    equal(ignoring.returncode, 5, f"the program's status, SIGCHLD ignored: {ignoring.stderr}")


def test_run_replaces_only_a_regular_file():
    """-o naming a FIFO (or a device, a directory, a link) is refused: `run` deleted it and
    put a trace there (as root, -o /dev/null deleted the system's)."""
    directory = tempfile.mkdtemp(prefix="fifo.", dir=WORK)
    fifo = os.path.join(directory, "fifo")
    os.mkfifo(fifo)
    result = mt("run", "-o", fifo, "--", "/bin/true")
    equal((result.returncode, result.stderr),
          (2, f"malloc-trace run: {fifo} is not a regular file, which a trace would replace\n"),
          "exit status, stderr")
    check(os.path.exists(fifo) and not os.path.isfile(fifo), "the FIFO is still there")


def test_run_replaces_an_old_trace_of_the_same_process_id():
    """Without -o, an old ./malloc-trace.PID.csv of an earlier process with the program's id
    is replaced, not appended to (its leak failed a clean program's --fail-on-leak run). In
    a new PID namespace, where the program's id is 2."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return  # a PID namespace needs root; CI runs as root
    directory = tempfile.mkdtemp(prefix="pid.", dir=WORK)
    with open(os.path.join(directory, "malloc-trace.2.csv"), "w") as old:
        old.write(HEADER + "\nleak;2;0x10;64;1;[{\"f\":\"malloc\",\"s\":\"\",\"l\":0,"
                  "\"m\":\"\"}]\n")
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    result = subprocess.run(["unshare", "--pid", "--fork", command(), "run", "--fail-on-leak",
                             "--", "/bin/true"], capture_output=True, text=True, cwd=directory,
                            env=env, timeout=60)
    equal(result.returncode, 0, f"a clean program's run: {result.stderr}")
    check("leak:" not in result.stderr, result.stderr)


def test_run_fail_on_leak_fails_on_a_damaged_trace():
    """A trace that `check` cannot read (exit 2) is no verdict: --fail-on-leak exits 2 (it
    returned the program's 0), naming each damaged line once (until edd762f the gate read
    the trace again, and named them twice)."""
    trace = os.path.join(WORK, "damaged.csv")
    result = mt("run", "-o", trace, "--fail-on-leak", "--", "/bin/sh", "-c",
                f"echo garbage >> {trace}; echo 'leak;1;0x1;5;1;[]' >> {trace}")
    equal((result.returncode, result.stderr.splitlines()),
          (2, [f"malloc-trace: trace written to {trace}",
               f"{trace}:2: fewer than 6 fields",
               f"{trace}:3: invalid callstack JSON: callstack is not a non-empty JSON array",
               "total: 0 bytes outstanding in 0 blocks; 0 orphan frees",
               "malloc-trace check: 0 bytes leaked in 0 blocks from 0 stacks (allowed: 0); 0 "
               "bytes suppressed in 0 blocks; 0 orphan frees (0 suppressed); the input is "
               "damaged: no verdict"]),
          "exit status, stderr")


def test_one_byte_is_singular():
    """A 1-byte leak reads \"1 byte\" in every summary (until c89a0da \"1 bytes\")."""
    trace = os.path.join(WORK, "one_byte.csv")
    with open(trace, "w") as out:
        out.write(HEADER + "\n")
        out.write('leak;7;0x1000;1;1764000000000;[{"f":"0x1","s":"lone","l":0,"m":"a.out"}]\n')
    result = mt("report", trace)
    equal((result.returncode, result.stdout.splitlines()[0], result.stdout.splitlines()[-1]),
          (0, "leak: 1 byte in 1 block, allocated 2025-11-24 16:00:00.000 UTC",
           "total: 1 byte outstanding in 1 block; 0 orphan frees"), "report")
    result = mt("check", trace)
    equal((result.returncode, result.stdout.splitlines()[:2]),
          (1, ["malloc-trace check: 1 byte leaked in 1 block from 1 stack (allowed: 0); 0 bytes "
               "suppressed in 0 blocks; 0 orphan frees (0 suppressed): FAIL",
               "  leak 1 byte in 1 block at 0x1 (lone:0)"]), "check")
    result = mt("report", "--format", "svg", trace)
    check("malloc-trace: 1 byte outstanding in 1 block</text>" in result.stdout, result.stdout)
    check("all: 1 byte in 1 block (100.00%)</title>" in result.stdout, result.stdout)


def test_a_forked_child_settles_its_copy_of_a_block_written_as_malloc():
    """A block written as malloc, then a fork: the child frees its copy (or keeps it and
    exits, reachable), then the parent frees its own. In one shared file, the child's row
    settles the parent's malloc row; in a file per process (%p), the child's late free has
    no malloc row in its file. Either way the late free that finds nothing to settle is no
    orphan free: until f0e6284 `check` counted 1 (and failed with --fail-on-free)."""
    clean = ("malloc-trace check: 0 bytes leaked in 0 blocks from 0 stacks (allowed: 0); 0 bytes "
             "suppressed in 0 blocks; 0 orphan frees (0 suppressed): ok")
    for form in FORMS:
        program = build("fork_after_a_malloc_row.c", form)
        for mode, child_row in (("free", "free"), ("keep", "reachable")):
            for per_process in (False, True):
                directory = tempfile.mkdtemp(dir=WORK)
                trace = os.path.join(directory, "t.%p.csv" if per_process else "t.csv")
                result = run(program, form, args=[mode], trace=trace, timeout=60,
                             env={"malloc_second_peremption": "1"})
                what = f"{form}, {mode}, {'%p' if per_process else 'shared'}"
                equal((result.returncode, result.stderr), (0, ""), f"status, stderr ({what})")
                files = sorted(os.path.join(directory, name) for name in os.listdir(directory))
                kinds = [row["function"] for path in files for row in read_trace(path)
                         if row["size"] == 100]
                expected = ["malloc", child_row, "free"]
                equal((len(files), sorted(kinds) if per_process else kinds),
                      (2 if per_process else 1, sorted(expected) if per_process else expected),
                      f"files, the rows ({what})")
                checked = mt("check", "--fail-on-free", *files)
                equal((checked.returncode, checked.stdout.splitlines()), (0, [clean]),
                      f"check ({what})")


def test_svg_flame_graph():
    result = mt("report", "--format", "svg", INPUT)
    equal((result.returncode, result.stderr), (0, ""), "exit status, stderr")
    path = os.path.join(WORK, "flame.svg")
    with open(path, "w") as out:
        out.write(result.stdout)
    lint = subprocess.run(["xmllint", "--noout", path], capture_output=True, text=True)
    equal((lint.returncode, lint.stderr), (0, ""), "xmllint: well-formed")
    namespace = "{http://www.w3.org/2000/svg}"
    root = ElementTree.fromstring(result.stdout)
    check(not list(root.iter(namespace + "script")), "no script")
    boxes = {}
    for group in root.iter(namespace + "g"):
        title = group.find(namespace + "title").text
        rect = group.find(namespace + "rect")
        boxes[title.split(": ")[0]] = (title, float(rect.get("x")), float(rect.get("width")))
    equal(boxes["all"][0], "all: 8232 bytes in 4 blocks (100.00%)", "the root's tooltip")
    equal(boxes["leak_site"][0], "leak_site: 8192 bytes in 2 blocks (99.51%)", "a tooltip")
    equal(boxes["cache::Store::insert(std::string const&)"][0],
          "cache::Store::insert(std::string const&): 24 bytes in 1 block (0.29%)", "escaping")
    equal(boxes["all"][2], 1200.0, "the root spans the width")
    for name, bytes in (("parse", 8192), ("list_push", 16), ("main", 8232)):
        check(abs(boxes[name][2] - 1200.0 * bytes / 8232) < 0.01, f"width of {name}")
    check(abs(boxes["parse"][1] - (boxes["list_push"][1] + boxes["list_push"][2])) < 0.01,
          "siblings side by side")


def test_example_ci_job():
    gate = os.path.join(ROOT, "examples", "ci", "leak-gate.sh")
    env = dict(os.environ, PATH=os.path.join(STAGE, "bin") + ":" + os.environ["PATH"],
               JUNIT=os.path.join(WORK, "example-ci.xml"))
    env.pop("LD_PRELOAD", None)
    leaky = subprocess.run([gate, os.path.join(ROOT, "examples", "leaky_server.c")], env=env,
                           capture_output=True, text=True, timeout=120)
    equal(leaky.returncode, 23, "a leaking program fails the job")
    check("leak-gate: " in leaky.stderr and "leaks (see the report above)" in leaky.stderr,
          leaky.stderr)
    suite = ElementTree.parse(env["JUNIT"]).getroot()
    check(any("open_session" in case.get("name") for case in suite.iter("testcase")),
          "the JUnit report names the leaking site")
    clean = subprocess.run([gate, os.path.join(ROOT, "tests", "programs", "leaker.c"), "0", "0",
                            "0"], env=env, capture_output=True, text=True, timeout=120)
    equal(clean.returncode, 0, f"a clean program passes: {clean.stderr}")


def program_frames_of(rows, program):
    """For each row, its frames in the program; sorted, as row order follows addresses."""
    return sorted(([f for f in r["stack"][1:] if f["m"] == program] for r in rows),
                  key=lambda frames: [f["f"] for f in frames])


def test_symbolize_matches_the_tracer():
    for form in ("wrap", "static", "preload"):
        program = build("inlined.c", form, optimization="-O2")
        raw = run_traced(program, form, {"MALLOC_TRACE_SYMBOLS": "0"})
        named = run_traced(program, form, {})
        out = os.path.join(WORK, f"symbolized.{form}.csv")
        result = mt("symbolize", raw, "-o", out)
        equal((result.returncode, result.stderr), (0, ""), f"exit status, stderr ({form})")
        equal(program_frames_of(leaks(out), program), program_frames_of(leaks(named), program),
              f"frames named offline and by the tracer ({form})")


def test_symbolize_with_a_sysroot():
    program = build("leaker.c", "static")
    raw = run_traced(program, "static", {"MALLOC_TRACE_SYMBOLS": "0"}, ["0", "1", "10"])
    # As if traced on a target where the program is /opt/target/leaker.
    target = "/opt/target/leaker"
    with open(raw) as text:
        moved = text.read().replace(program, target)
    moved_trace = os.path.join(WORK, "target.csv")
    with open(moved_trace, "w") as text:
        text.write(moved)
    sysroot = tempfile.mkdtemp(prefix="sysroot.", dir=WORK)
    os.makedirs(os.path.join(sysroot, "opt", "target"))
    shutil.copy(program, os.path.join(sysroot, "opt", "target", "leaker"))
    out = os.path.join(WORK, "target.named.csv")
    result = mt("symbolize", "--sysroot", sysroot, moved_trace, "-o", out)
    equal((result.returncode, result.stderr), (0, ""), "exit status, stderr")
    names = [f["f"] for f in program_frames_of(leaks(out), target)[0]]
    equal(names[:4], ["leaf", "middle", "outer", "main"], "frames named from the sysroot")
    # Stripped there, its debug information in the sysroot's /usr/lib/debug: found by build
    # id, then by its .gnu_debuglink name; a relative --sysroot, with ':' in its name, too.
    # At e7c371d neither was (the host's /usr/lib/debug was searched), and the frames stayed
    # MODULE+0xOFFSET.
    stripped_root = tempfile.mkdtemp(prefix="sys:root.", dir=WORK)  # ':' splits libdwfl's list
    stripped = os.path.join(stripped_root, "opt", "target", "leaker")
    os.makedirs(os.path.dirname(stripped))
    debug = os.path.join(WORK, "leaker.debug")
    for tool in (["objcopy", "--only-keep-debug", program, debug],
                 ["strip", "-o", stripped, program]):
        subprocess.run(tool, check=True)
    notes = subprocess.run(["readelf", "-n", program], capture_output=True, text=True).stdout
    build_id = re.search(r"Build ID: ([0-9a-f]+)", notes).group(1)
    by_id = os.path.join(stripped_root, "usr", "lib", "debug", ".build-id", build_id[:2])
    os.makedirs(by_id)
    # Another program's debug file at that path is no debug file of this one: its frames
    # stay MODULE+0xOFFSET. Until 595a7c6 they were named from it.
    other_debug = os.path.join(WORK, "other.debug")
    subprocess.run(["objcopy", "--only-keep-debug", build("inlined.c", "static"), other_debug],
                   check=True)
    shutil.copy(other_debug, os.path.join(by_id, build_id[2:] + ".debug"))
    result = mt("symbolize", "--sysroot", stripped_root, moved_trace, "-o", out)
    equal((result.returncode, result.stderr), (0, ""), "exit status, stderr (another build id)")
    check_module_offset_frames(program_frames_of(leaks(out), target)[0],
                               "frames beside another program's debug file")
    shutil.copy(debug, os.path.join(by_id, build_id[2:] + ".debug"))
    result = mt("symbolize", "--sysroot", os.path.basename(stripped_root), moved_trace, "-o",
                out, cwd=WORK)
    equal((result.returncode, result.stderr), (0, ""), "exit status, stderr (by build id)")
    equal([f["f"] for f in program_frames_of(leaks(out), target)[0]][:4], names[:4],
          "a stripped program named by build id")
    shutil.rmtree(os.path.join(stripped_root, "usr", "lib", "debug", ".build-id"))
    subprocess.run(["objcopy", f"--add-gnu-debuglink={debug}", stripped], check=True)
    os.makedirs(os.path.join(stripped_root, "usr", "lib", "debug", "opt", "target"))
    shutil.copy(debug, os.path.join(stripped_root, "usr", "lib", "debug", "opt", "target"))
    result = mt("symbolize", "--sysroot", stripped_root, moved_trace, "-o", out)
    equal((result.returncode, result.stderr), (0, ""), "exit status, stderr (by debuglink)")
    equal([f["f"] for f in program_frames_of(leaks(out), target)[0]][:4], names[:4],
          "a stripped program named by its .gnu_debuglink")
    missing_root = mt("symbolize", "--sysroot", os.path.join(WORK, "none"), moved_trace, "-o",
                      out)
    equal((missing_root.returncode, missing_root.stderr),
          (2, f"malloc-trace symbolize: {os.path.join(WORK, 'none')}: No such file or "
              "directory\n"), "a sysroot that is not there")
    file_root = mt("symbolize", "--sysroot", moved_trace, moved_trace, "-o", out)
    equal((file_root.returncode, file_root.stderr),
          (2, f"malloc-trace symbolize: {moved_trace}: Not a directory\n"),
          "a sysroot that is a file (until e1ca12a every module failed, exit 0)")
    missing = mt("symbolize", moved_trace, "-o", out)  # no sysroot: the module is not there
    equal(missing.returncode, 0, "a module that cannot be read leaves its frames as they are")
    equal(missing.stderr.splitlines()[0].split(":")[0:2],
          ["malloc-trace symbolize", f" cannot read {target}"], "said once")
    equal(len(missing.stderr.splitlines()), 1, "said once")
    equal(mt("symbolize", moved_trace).returncode, 2, "no -o")
    equal(mt("symbolize", os.path.join(WORK, "none.csv"), "-o", out).returncode, 2,
          "a missing file")


def test_symbolize_a_module_whose_path_is_not_utf8():
    """A program in a directory named in Latin-1: the trace writes each byte that is not
    UTF-8 as '?', and until ab683b8 symbolize found no file by that name and left the frames
    as they were. It now takes the one file that has such a byte at each '?'; with two of
    them, neither."""
    program = build("leaker.c", "static")
    parent = tempfile.mkdtemp(prefix="latin1.", dir=WORK)
    directory = os.path.join(os.fsencode(parent), b"caf\xe9")
    os.mkdir(directory)
    moved = os.path.join(directory, b"leaker")
    shutil.copy(program, moved)
    shown = os.path.join(parent, "caf?", "leaker")  # as the trace writes it
    raw = run_traced(moved, "static", {"MALLOC_TRACE_SYMBOLS": "0"}, ["0", "1", "10"])
    equal([f["m"] for f in leaks(raw)[0]["stack"][1:2]], [shown], "the module as written")
    out = os.path.join(WORK, "latin1.named.csv")
    result = mt("symbolize", raw, "-o", out)
    equal((result.returncode, result.stderr), (0, ""), "exit status, stderr")
    equal([f["f"] for f in program_frames_of(leaks(out), shown)[0]][:4],
          ["leaf", "middle", "outer", "main"], "frames named")
    os.mkdir(os.path.join(os.fsencode(parent), b"caf\xea"))
    shutil.copy(program, os.path.join(os.fsencode(parent), b"caf\xea", b"leaker"))
    result = mt("symbolize", raw, "-o", out)
    equal((result.returncode, result.stderr),
          (0, f"malloc-trace symbolize: cannot read {shown}: No such file or directory\n"),
          "exit status, stderr (two files could be the module)")
    check(all(re.fullmatch(re.escape(shown) + r"\+0x[0-9a-f]+", f["f"])
              for f in program_frames_of(leaks(out), shown)[0]), "frames left as they were")


def run_traced(program, form, env, args=()):
    result = run(program, form, env=env, args=list(args))
    equal(result.returncode, 0, "exit status")
    return result.trace_path


def leaks(path):
    """The leak rows of a trace that have frames above frame 0."""
    return [r for r in read_trace(path) if r["function"] == "leak" and len(r["stack"]) > 1]


def test_review_findings_on_odd_input():
    directory = tempfile.mkdtemp(prefix="odd.", dir=WORK)
    frame = '{"f":"x","s":"","l":0,"m":""}'
    # Sizes that would wrap a sum round to a small number are rejected.
    huge = os.path.join(directory, "huge.csv")
    with open(huge, "w") as text:
        text.write(f"{HEADER}\nleak;1;0x10;9223372036854775808;1;[{frame}]\n")
    result = mt("check", huge)
    equal((result.returncode, result.stderr),
          (2, f"{huge}:2: size is not a whole number below 2^63\n"), "a size of 2^63")
    # Sizes whose sum would pass 2^63 - 1: the row that passes it is bad input (a verdict of
    # the largest number would pass an allowance of that number); up to it, exact.
    with open(huge, "w") as text:
        text.write(f"{HEADER}\nleak;1;0x10;4611686018427387904;1;[{frame}]\n"
                   f"leak;1;0x20;4611686018427387903;1;[{frame}]\n"
                   f"leak;1;0x30;1;1;[{frame}]\n")
    result = mt("check", huge, "--max-leaked-bytes", "9223372036854775807")
    equal((result.returncode, result.stderr),
          (2, f"{huge}:4: sizes add up past 2^63 - 1 bytes\n"), "sizes past 2^63 - 1")
    check(result.stdout.startswith("malloc-trace check: 9223372036854775807 bytes leaked in 2 "
                                   "blocks"), result.stdout)
    with open(huge, "w") as text:
        text.write(f"{HEADER}\nleak;1;0x10;4611686018427387904;1;[{frame}]\n"
                   f"leak;1;0x20;4611686018427387903;1;[{frame}]\n")
    result = mt("check", huge, "--max-leaked-bytes", "9223372036854775806")
    equal((result.returncode, result.stderr), (1, ""), "sizes that add up to 2^63 - 1")
    check(result.stdout.startswith("malloc-trace check: 9223372036854775807 bytes leaked in 2 "
                                   "blocks"), result.stdout)
    # A row that settles another counts once: a suspect and its exit row, a suspect and its
    # late free (held at once: 2^62 + 2^62 - 1 bytes).
    with open(huge, "w") as text:
        text.write(f"{HEADER}\nmalloc;1;0x10;4611686018427387904;1;[{frame}]\n"
                   f"leak;1;0x10;4611686018427387904;1;[{frame}]\n"
                   f"malloc;1;0x20;4611686018427387903;1;[{frame}]\n"
                   f"free;1;0x20;4611686018427387903;2;[{frame}]\n")
    result = mt("check", huge)
    equal((result.returncode, result.stderr), (1, ""), "settled rows")
    check(result.stdout.startswith("malloc-trace check: 4611686018427387904 bytes leaked in 1 "
                                   "block"), result.stdout)
    # An allowance must be a number: " -1" is not.
    equal(mt("check", INPUT, "--max-leaked-bytes", " -1").returncode, 2, "a negative allowance")
    # Options after the files, for report too.
    equal(mt("report", INPUT, "--format", "folded").stdout, golden("folded.out"), "order")
    # A FIFO among the files is read, not consumed by a check that it exists.
    fifo = os.path.join(directory, "fifo")
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"cat {INPUT} > {fifo}"])
    result = mt("report", "--format", "folded", fifo, timeout=30)
    writer.wait(timeout=30)
    equal((result.returncode, result.stdout), (0, golden("folded.out")), "a FIFO")
    # A name that is not UTF-8, or holds U+FFFF, still gives well-formed XML.
    odd = os.path.join(directory, "odd.csv")
    with open(odd, "wb") as text:
        text.write(HEADER.encode() + b"\n")
        text.write(b'leak;1;0x10;8;1;[{"f":"malloc","s":"","l":0,"m":""},'
                   b'{"f":"a\\uffffb","s":"","l":0,"m":""},'
                   b'{"f":"' + "é".encode() * 300 + b'","s":"","l":0,"m":""}]\n')
    svg = mt("report", "--format", "svg", odd)
    ElementTree.fromstring(svg.stdout.encode())
    junit = os.path.join(directory, "odd.xml")
    mt("check", odd, "--junit", junit)
    ElementTree.parse(junit)
    # A stack deeper than anything real does not crash the flame graph.
    deep = os.path.join(directory, "deep.csv")
    with open(deep, "w") as text:
        frames = ",".join('{"f":"f%d","s":"","l":0,"m":""}' % i for i in range(20000))
        text.write(f"{HEADER}\nleak;1;0x10;8;1;[{frames}]\n")
    equal(mt("report", "--format", "svg", deep).returncode, 0, "a 20,000-frame stack")
    # The orphan frees that fail the gate are in the JUnit report.
    path = os.path.join(directory, "free.xml")
    result = mt("check", INPUT, "--max-leaked-bytes", "10000", "--fail-on-free", "--junit", path)
    equal(result.returncode, 1, "exit status")
    suite = ElementTree.parse(path).getroot()
    check(int(suite.get("failures")) >= 1, "a failing gate shows failures")
    # Writing over the input is refused.
    copy = os.path.join(directory, "same.csv")
    shutil.copy(INPUT, copy)
    equal(mt("symbolize", copy, "-o", copy).returncode, 2, "symbolize over its input")
    same = subprocess.run(["python3", os.path.join(ROOT, "scripts", "remove_malloc_free.py"),
                           "-i", copy, "-o", copy], capture_output=True, text=True)
    equal(same.returncode, 2, "remove_malloc_free.py over its input")
    with open(copy) as text, open(INPUT) as original:
        equal(text.read(), original.read(), "the input is intact")


def test_run_trace_path_survives_chdir_and_descendants_do_not_write_into_it():
    directory = tempfile.mkdtemp(prefix="chdir.", dir=WORK)
    os.mkdir(os.path.join(directory, "sub"))
    leaker = build("leaker.c", "preload")
    wrapped = build("leaker.c", "wrap")
    result = mt("run", "-o", "t.csv", "--fail-on-leak", "--", "/bin/sh", "-c",
                f"cd sub && {leaker} 0 1 100", cwd=directory)
    equal(result.returncode, 0, "the shell leaks nothing; its children are untraced")
    check(os.path.exists(os.path.join(directory, "t.csv")), "the trace where run was started")
    check(not os.path.exists(os.path.join(directory, "sub", "t.csv")), "not where it went")
    result = mt("run", "-o", "u.csv", "--fail-on-leak", "--", "/bin/sh", "-c",
                f"{wrapped} 0 1 100; true", cwd=directory)
    equal(result.returncode, 0, "a wrap-linked descendant does not write into the run's trace")
    # A static program is not preloaded; a wrap-linked one writes its own trace, where the
    # blocks libc allocates before any constructor are reachable, not leaks.
    static = build("leaker.c", "static")
    result = mt("run", "-o", "v.csv", "--fail-on-leak", "--", static, "0", "0", "0",
                cwd=directory)
    equal(result.returncode, 0, "a static wrap-linked program that leaks nothing")
    result = mt("run", "-o", "v.csv", "--fail-on-leak", "--", static, "0", "1", "100",
                cwd=directory)
    equal(result.returncode, 23, "a static wrap-linked program that leaks a block")
    # A static program without the tracer writes no trace: the gate fails, never passes.
    plain_static = os.path.join(directory, "plain-static")
    subprocess.run(["gcc", "-static", "-O0", os.path.join(ROOT, "tests", "programs",
                                                          "leaker.c"), "-o", plain_static],
                   check=True)
    result = mt("run", "-o", "w.csv", "--fail-on-leak", "--", plain_static, "0", "0", "0",
                cwd=directory)
    equal(result.returncode, 2, "no trace written")


def test_report_write_errors_and_odd_suppression_files():
    """A report that cannot be written exits 2 with one line (it exited 0, the output lost);
    a directory given as a suppression file is an error (it was read as an empty file); a
    pattern of 4,096 characters or more still matches (it never did); a line longer than 1 MiB
    ends the reading."""
    # check's summary too (until f467797 it exited 1, the summary lost)
    for subcommand, what in (("report", "report"), ("check", "summary")):
        with open("/dev/full", "w") as device:
            full = subprocess.run([command(), subcommand, INPUT], stdout=device,
                                  stderr=subprocess.PIPE, text=True, timeout=60)
        equal((full.returncode, full.stderr),
              (2, f"malloc-trace {subcommand}: cannot write the {what}: No space left on "
                  "device\n"), f"{subcommand} to /dev/full")
    directory = tempfile.mkdtemp(prefix="supp.", dir=WORK)
    result = mt("check", INPUT, "--suppressions", directory)
    equal((result.returncode, result.stderr),
          (2, f"malloc-trace check: {directory}: Is a directory\n"), "a directory")
    name = "T<" + "int," * 1100 + "int>"
    trace = os.path.join(directory, "long.csv")
    with open(trace, "w") as out:
        out.write(HEADER + '\nleak;1;0x10;8;1;[{"f":"malloc","s":"","l":0,"m":""},'
                  f'{{"f":"{name}","s":"","l":0,"m":""}}]\n')
    suppressions = os.path.join(directory, "long.supp")
    with open(suppressions, "w") as out:
        out.write(f"leak:{name}\n")
    equal(mt("check", trace).returncode, 1, "the leak fails the gate")
    equal(mt("check", trace, "--suppressions", suppressions).returncode, 0,
          "a 4,406-character pattern suppresses it")
    endless = mt("check", trace, "--suppressions", "/dev/zero")
    equal((endless.returncode, endless.stderr),
          (2, "/dev/zero:1: the line is longer than 1 MiB\n"),
          "a suppression file of no line ends (it took memory until there was none)")


def test_text_output_escapes_names_and_junit_spares_the_input():
    """A frame name holding a newline or an escape sequence is one line of text output, the
    character as \\xHH (it went to the terminal raw); a trace named twice is refused (its rows
    counted twice), and so is --junit naming an input trace (it overwrote the trace)."""
    directory = tempfile.mkdtemp(prefix="names.", dir=WORK)
    trace = os.path.join(directory, "names.csv")
    with open(trace, "w") as out:
        out.write(HEADER + '\nleak;1;0x10;8;1;[{"f":"malloc","s":"","l":0,"m":""},'
                  '{"f":"two\\nlines\\u001b[31m","s":"a\\tb.c","l":3,"m":""}]\n')
    report = mt("report", trace)
    equal(report.returncode, 0, "report's exit status")
    check("    #1 two\\x0alines\\x1b[31m (a\\x09b.c:3)\n" in report.stdout, report.stdout)
    with open(trace) as before:
        text = before.read()
    twice = mt("check", trace, os.path.join(directory, ".", "names.csv"))
    equal((twice.returncode, twice.stderr),
          (2, f"malloc-trace: {directory}/./names.csv: named twice (as {trace})\n"),
          "a trace named twice")
    refused = mt("check", trace, "--junit", trace)
    equal((refused.returncode, refused.stderr),
          (2, f"malloc-trace check: --junit {trace} would overwrite a trace it reads\n"),
          "exit status, stderr")
    with open(trace) as after:
        equal(after.read(), text, "the trace")


def test_lines_too_long_for_a_trace_or_for_memory():
    """A line longer than 64 MiB is named and skipped, and the rows after it are read (a
    line the reader could not hold ended the file without a word, and /dev/zero grew the
    reader until the kernel killed it); a callstack jansson cannot hold in the memory left
    ends the command with one line (jansson's parser crashed)."""
    directory = tempfile.mkdtemp(prefix="long.", dir=WORK)
    good = '[{"f":"malloc","s":"","l":0,"m":""}]'
    path = os.path.join(directory, "long.csv")
    with open(path, "w") as text:
        text.write(f"{HEADER}\nleak;1;0x10;5;1;{good}\n")
        text.write('leak;1;0x20;7;1;[{"f":"' + "a" * (65 << 20) + '","s":"","l":0,"m":""}]\n')
        text.write(f"leak;1;0x30;11;1;{good}\n")
    result = mt("check", path)
    equal((result.returncode, result.stderr), (2, f"{path}:3: the line is longer than 64 MiB\n"),
          "a line longer than 64 MiB")
    check("16 bytes leaked in 2 blocks" in result.stdout, result.stdout)
    result = mt("report", "/dev/zero")
    equal((result.returncode, result.stderr),
          (2, "/dev/zero:1: the line is longer than 64 MiB\n"), "/dev/zero")
    if "ASAN_OPTIONS" in os.environ:
        return  # the asan command (test_sanitizers.py) maps terabytes of shadow: no limit fits
    with open(path, "w") as text:
        text.write(f"{HEADER}\n")
        text.write('leak;1;0x20;7;1;[{"f":"' + "a" * (50 << 20) + '","s":"","l":0,"m":""}]\n')
    limited = subprocess.run(["prlimit", f"--as={130 << 20}", command(), "check", path],
                             capture_output=True, text=True, timeout=120)
    equal((limited.returncode, limited.stderr), (2, "malloc-trace: out of memory\n"),
          "a callstack too large for the memory left")


def test_symbolize_skips_a_module_that_is_no_regular_file():
    """A frame whose module names a FIFO: symbolize says it cannot read it and goes on (it
    waited for a writer for ever)."""
    directory = tempfile.mkdtemp(prefix="fifo.", dir=WORK)
    fifo = os.path.join(directory, "module")
    os.mkfifo(fifo)
    trace = os.path.join(directory, "in.csv")
    line = (f'leak;1;0x10;5;1;[{{"f":"malloc","s":"","l":0,"m":""}},'
            f'{{"f":"{fifo}+0x1139","s":"","l":0,"m":"{fifo}"}}]')
    with open(trace, "w") as text:
        text.write(f"{HEADER}\n{line}\n")
    out = os.path.join(directory, "out.csv")
    result = mt("symbolize", trace, "-o", out, timeout=30)
    equal((result.returncode, result.stderr),
          (0, f"malloc-trace symbolize: cannot read {fifo}: not a regular file\n"),
          "exit status, stderr")
    with open(out) as text:
        equal(text.read(), f"{HEADER}\n{line}\n", "the row, unchanged")
    # A module cut short: libdwfl took it, and named nothing (until e1ca12a, with no word).
    cut = os.path.join(directory, "cut")
    with open(build("leaker.c", "preload"), "rb") as whole, open(cut, "wb") as part:
        part.write(whole.read(3000))
    line = (f'leak;1;0x10;5;1;[{{"f":"malloc","s":"","l":0,"m":""}},'
            f'{{"f":"{cut}+0x1139","s":"","l":0,"m":"{cut}"}}]')
    with open(trace, "w") as text:
        text.write(f"{HEADER}\n{line}\n")
    result = mt("symbolize", trace, "-o", out, timeout=30)
    equal((result.returncode, result.stderr),
          (0, f"malloc-trace symbolize: cannot read {cut}: the file is cut short (its headers "
              "lie past its end)\n"), "a module cut short")
    with open(out) as text:
        equal(text.read(), f"{HEADER}\n{line}\n", "its row, unchanged")


def test_symbolize_refuses_the_call_stacks_check_refuses():
    """Call stacks that check refuses are refused by symbolize too, with check's reasons and
    exit 2 (until 214e036 they passed with exit 0, and a key named twice was written once);
    and OUT is removed, not left with the good rows only as if they were the trace (until
    edd762f). OUT that is no regular file stays: /dev/null, here."""
    directory = tempfile.mkdtemp(prefix="stacks.", dir=WORK)
    trace = os.path.join(directory, "in.csv")
    good = '[{"f":"malloc","s":"","l":0,"m":""}]'
    with open(trace, "w") as text:
        text.write(f"{HEADER}\nleak;1;0x10;5;1;[]\nleak;1;0x20;5;1;[{{\"f\":\"a\",\"s\":\"\"}}]\n"
                   f"leak;1;0x30;5;1;[{{\"f\":\"a\",\"s\":\"\",\"l\":0,\"f\":\"b\"}}]\n"
                   f"leak;1;0x40;5;1;{good}\n")
    out = os.path.join(directory, "out.csv")
    symbolized = mt("symbolize", trace, "-o", out)
    checked = mt("check", trace)
    reasons = [line for line in checked.stderr.splitlines() if line.startswith(trace)]
    equal(len(reasons), 3, f"check's reasons: {checked.stderr}")
    equal((symbolized.returncode, symbolized.stderr.splitlines()),
          (2, reasons + [f"malloc-trace symbolize: {out} removed: the input could not be read "
                         "whole"]),
          "exit status, the same reasons, OUT removed")
    check(not os.path.exists(out), "OUT removed")
    to_null = mt("symbolize", trace, "-o", "/dev/null")
    equal((to_null.returncode, to_null.stderr.splitlines()), (2, reasons),
          "to /dev/null: exit status, the reasons")
    check(os.path.exists("/dev/null") and not os.path.isfile("/dev/null"), "/dev/null stays")


def test_run_refuses_a_trace_path_the_tracer_would_expand():
    """A '%' in -o FILE is refused, and so is a relative trace path (no -o included) in a
    working directory whose path holds one: until 0838d88 the tracer expanded its %p, wrote
    the trace elsewhere, and run said no trace was written (exit 0). An absolute -o needs no
    working directory."""
    directory = tempfile.mkdtemp(prefix="percent%p.", dir=WORK)
    message = (f"malloc-trace run: the working directory {directory} holds '%': give -o an "
               "absolute path without one\n")
    for arguments, stderr in [(["-o", "t.%p.csv"], "malloc-trace run: -o FILE cannot hold '%'\n"),
                              (["-o", "t.csv"], message), ([], message)]:
        result = mt("run", *arguments, "--", "/bin/true", cwd=directory)
        equal((result.returncode, result.stderr, os.listdir(directory)), (2, stderr, []),
              f"run {arguments}")
    trace = os.path.join(WORK, "percent.csv")
    result = mt("run", "-o", trace, "--", "/bin/true", cwd=directory)
    equal(result.returncode, 0, f"an absolute -o: {result.stderr}")
    equal(read_trace(trace), [], "its trace: the header alone")
    # In a directory since deleted, an absolute -o needs no name for it (until eb96781 run
    # stopped at getcwd); a relative one does.
    gone = tempfile.mkdtemp(prefix="gone.", dir=WORK)
    for output, status in [(trace, 0), ("t.csv", 2)]:
        result = subprocess.run(["sh", "-c", 'cd "$1" && rmdir "$1" && exec "$2" run -o "$3" '
                                 "-- /bin/true", "sh", gone, command(), output],
                                capture_output=True, text=True, timeout=60)
        equal(result.returncode, status, f"-o {output} in a deleted directory: {result.stderr}")
        os.makedirs(gone)
