"""The sanitizers and valgrind (issue 7): any finding is a bug, and fails its test with the
report in the message. make (check, check-sanitize) builds under build/sanitize/:

- asan/: AddressSanitizer with UBSan: the core and the wrap front-end (libmalloctrace.a),
  the command and the unit tests. The test programs are built with ASan and linked with this
  archive in the dynamic wrap form, where __real_malloc is ASan's malloc.
- ubsan/: UBSan alone, where ASan cannot run: the preload library (ASan must be the only
  malloc interposer of a process, and first in its link order) and the static wrap form
  (ASan has no static runtime).

valgrind's memcheck runs the test programs in the dynamic wrap form and in the preload form
(they compose: our malloc calls glibc's __libc_malloc, which memcheck replaces as well), the
unit tests, and the command on the golden traces.

Reports go to files (the sanitizers' log_path, valgrind's --log-file with -q, so that only
errors are written): a finding is seen wherever it happened, in a forked child or in the
program under `malloc-trace run`, whatever its standard error."""
import os
import re
import shutil
import subprocess
import tempfile

import harness
import test_command as command_tests
from harness import (BUILD, PROGRAMS, ROOT, STAGE, WORK, Failure, assert_expected_rows, build,
                     build_shared, check, equal, pkg_config, read_trace)

SANITIZE = os.path.join(BUILD, "sanitize")
ASAN_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all",
              "-fno-omit-frame-pointer"]
UBSAN_FLAGS = ["-fsanitize=undefined", "-fno-sanitize-recover=all"]
SUPPRESSIONS = os.path.join(ROOT, "tests", "valgrind.supp")
SANITIZE_WORK = os.path.join(WORK, "sanitize")
os.makedirs(SANITIZE_WORK, exist_ok=True)


def built(*parts):
    path = os.path.join(SANITIZE, *parts)
    check(os.path.exists(path), f"{path} is missing: make check-sanitize builds it")
    return path


# ---- finding the findings ------------------------------------------------------------

def reports_directory():
    return tempfile.mkdtemp(prefix="reports.", dir=SANITIZE_WORK)


def sanitizer_env(reports):
    return {
        # abort_on_error: a report ends the program with SIGABRT, whatever exit status it
        # would have had. exitcode=0 only keeps LeakSanitizer from ending it: the test
        # programs leak on purpose (leak_findings sorts their leaks from ours).
        # allocator_may_return_null: the programs ask for impossible sizes on purpose, to
        # compare what the allocator returns.
        # intercept_tls_get_addr=0: LeakSanitizer misreads the dynamic TLS of a library
        # loaded with dlopen (libunwind.so.8, which the dynamic wrap form loads) on glibc
        # 2.36, and crashes scanning it when a thread that used it is still alive at exit
        # (a plain ASan program that dlopens libunwind does the same);
        # https://github.com/google/sanitizers/issues/1322
        "ASAN_OPTIONS": f"log_path={reports}/asan:abort_on_error=1:exitcode=0:"
                        "detect_leaks=1:allocator_may_return_null=1:intercept_tls_get_addr=0",
        "LSAN_OPTIONS": "report_objects=1",
        "UBSAN_OPTIONS": f"log_path={reports}/ubsan:abort_on_error=1:print_stacktrace=1",
    }


def valgrind_command(reports, leak_check="no", preload=False):
    # --leak-check=no for the test programs: they leak on purpose, and LeakSanitizer's
    # check (leak_findings) tells their leaks from the tracer's, which memcheck's cannot.
    # somalloc=nouserintercepts: since 3.12 valgrind replaces malloc and friends in every
    # library that defines them, the preload library included (its rows would vanish);
    # this keeps it to the system's libraries: our malloc then calls glibc's __libc_malloc,
    # which is valgrind's.
    return ["valgrind", "-q", "--error-exitcode=99", f"--leak-check={leak_check}",
            "--soname-synonyms=somalloc=nouserintercepts",
            # Only blocks no pointer reaches: "possibly lost" (an interior pointer) is what
            # memcheck says of the thread descriptor of a thread still running at exit.
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect", "--num-callers=40",
            f"--suppressions={SUPPRESSIONS}", f"--log-file={reports}/valgrind.%p",
            "--trace-children=yes",
            # valgrind runs one thread at a time; without a fair lock a thread that spins
            # waiting for another can keep it from ever running.
            "--fair-sched=yes",
            # The preload library's operators allocate with __libc_malloc and release with
            # __libc_free, a malloc and a free to memcheck, except the nothrow new, which is
            # libstdc++'s (memcheck's own, there: a new; in a program linked with an
            # allocator library, the library's): its delete would be "mismatched". Nothing
            # is lost: memcheck sees no new or delete of the program in this form.
            *(["--show-mismatched-frees=no"] if preload else [])]


def reports_in(reports):
    """Every non-empty report file, as (name, text)."""
    found = []
    for name in sorted(os.listdir(reports)):
        with open(os.path.join(reports, name), errors="replace") as report:
            text = report.read()
        if text.strip():
            found.append((name, text))
    return found


LEAK_HEADER = re.compile(r"^(Direct|Indirect) leak of \d+ byte", re.M)
# Frames in the tracer's own code, or in libraries only the tracer calls.
TRACER_FRAME = re.compile(r"\bwrap/core/|/lib(dw|elf|jansson|unwind)[.-]")


def leak_findings(text, leak_rows, strict):
    """The parts of a LeakSanitizer report that are findings. strict: every leak is one (the
    command, the unit tests). Otherwise a test program's own leaks, which it makes on purpose
    for the tracer to report, are not, as long as the trace reports each of them: every
    leaked object allocated through a __wrap_ entry point must be in leak_rows (a shared
    library's own malloc is out of --wrap's reach, README). A leak allocated by the tracer
    itself always is a finding."""
    starts = [m.start() for m in LEAK_HEADER.finditer(text)]
    findings = []
    for begin, end in zip(starts, starts[1:] + [len(text)]):
        block = text[begin:end].split("\nSUMMARY:")[0].rstrip()
        if strict or TRACER_FRAME.search(block):
            findings.append(block)
            continue
        if "__wrap_" not in block:
            continue
        objects = re.findall(r"^(0x[0-9a-f]+) \(\d+ bytes\)$", block, re.M)
        missing = [address for address in objects if address not in leak_rows]
        if missing or not objects:
            findings.append(f"not in the trace as leak rows: {missing}\n{block}")
    return findings


def assert_no_findings(reports, what, leak_rows=None):
    """Fails with every finding in the report files. leak_rows: the addresses the trace
    accounts for (its leak rows, and the blocks the program told it to ignore), for a
    program that leaks on purpose; None: any leak is a finding."""
    findings = []
    for name, text in reports_in(reports):
        if "ERROR: LeakSanitizer" in text and not re.search(
                r"ERROR: AddressSanitizer|runtime error", text):
            leaks = leak_findings(text, leak_rows or set(), leak_rows is None)
            findings += [f"{name}: {leak}" for leak in leaks]
        else:
            findings.append(f"{name}:\n{text}")
    if findings:
        raise Failure(f"{what}: {len(findings)} finding(s)\n" + "\n\n".join(findings)[:20000])


# ---- the test programs ---------------------------------------------------------------

class Program:
    def __init__(self, name, source, args=(), status=0, env=None, rows=True, timeout=120):
        self.name, self.source, self.args, self.status = name, source, list(args), status
        self.env = env or {}
        self.rows = rows  # whether assert_expected_rows applies (see the tests of each)
        self.timeout = timeout


def plugins():
    return [build_shared("dl_plugin.c", "libplugin_first.so", ["-DPLUGIN=first",
                                                              "-DPLUGIN_SIZE=111"]),
            build_shared("dl_plugin.c", "libplugin_second.so", ["-DPLUGIN=second",
                                                               "-DPLUGIN_SIZE=222"])]


PERIODIC = {"malloc_second_peremption": "1"}
PROGRAM_LIST = [
    Program("events", "events.c"),
    Program("cxx_events", "cxx_events.cpp"),
    Program("semantics", "semantics.c"),
    Program("cxx_semantics", "cxx_semantics.cpp", rows=False),  # no EXPECT lines
    Program("api", "api.c"),
    Program("lifecycle", "lifecycle.c", rows=False),  # its EXPECT rows come after main
    Program("leaker", "leaker.c", ["0", "3", "24"]),
    Program("inlined", "inlined.c", rows=False),  # frame 1 is "*": test_symbols checks it
    Program("inlined_cxx", "inlined_cxx.cpp", rows=False),
    Program("threads", "threads.c"),
    Program("threads_exit", "threads.c", ["exit"], status=7, rows=False),
    Program("forks", "forks.c", rows=False),  # parent and child write one file
    Program("forks_stress", "forks.c", ["stress"], rows=False),
    Program("signals", "signals.c", rows=False),
    Program("dl_host", "dl_host.c", rows=False),  # test_symbols checks its rows
    Program("periodic", "periodic.c", ["late"], env=PERIODIC),
]
PROGRAMS_BY_NAME = {p.name: p for p in PROGRAM_LIST}


def build_sanitized(source, kind):
    """tests/programs/SOURCE built with the sanitizers and linked with the sanitized
    archive: kind "asan" (dynamic wrap form, ASan and UBSan) or "ubsan-static"."""
    name, extension = os.path.splitext(source)
    output = os.path.join(SANITIZE_WORK, f"{name}.{kind}")
    source_path = os.path.join(PROGRAMS, source)
    archive = built("asan" if kind == "asan" else "ubsan", "libmalloctrace.a")
    if os.path.exists(output) and os.path.getmtime(output) > max(
            os.path.getmtime(source_path), os.path.getmtime(archive),
            os.path.getmtime(os.path.join(PROGRAMS, "common.h"))):
        return output
    static = kind != "asan"
    libraries = pkg_config("--cflags", "--libs", *(["--static"] if static else []))
    # The sanitized archive in place of the installed one.
    libraries = [archive if flag == "-lmalloctrace" else flag for flag in libraries]
    # -Wno-alloc-size-larger-than: semantics.c asks for impossible sizes on purpose, and the
    # instrumentation lets gcc see them even at -O0.
    command = ["g++" if extension == ".cpp" else "gcc", "-O0", "-g", "-pthread",
               "-Wno-alloc-size-larger-than",
               *(["-static"] + UBSAN_FLAGS if static else ASAN_FLAGS), source_path, "-o",
               output, *libraries]
    result = subprocess.run(command, capture_output=True, text=True)
    # libdw.a always warns about dlopen in static links (TRAPS.md).
    errors = [l for l in result.stderr.splitlines()
              if "dlopen" not in l and "debuginfod" not in l and l.strip()]
    check(result.returncode == 0 and not errors,
          f"build of {source} ({kind}) failed:\n" + "\n".join(errors))
    return output


def run_program(spec, executable, form, prefix=(), env=None, preload=None):
    """Runs a Program's executable in a form (wrap, static, preload: with the library
    preload) behind prefix (a valgrind command)."""
    trace = tempfile.mktemp(prefix="trace.", suffix=".csv", dir=SANITIZE_WORK)
    full_env = dict(os.environ, out_file_path=trace, EVENTS_FORM=form, **spec.env,
                    **(env or {}))
    full_env.pop("LD_PRELOAD", None)
    command = [executable, *(plugins() if spec.name == "dl_host" else spec.args)]
    if preload is not None:
        # Through env, so that valgrind (--trace-children) starts the program with it, not
        # the valgrind launcher (a shell script) itself.
        command = ["env", f"LD_PRELOAD={preload}", *command]
    completed = subprocess.run([*prefix, *command], env=full_env, capture_output=True,
                               text=True, timeout=spec.timeout)
    return harness.Run(completed, trace)


def check_program_run(spec, result, executable, reports, what):
    rows = result.rows() if os.path.exists(result.trace_path) else []
    # The exit rows of unreachable blocks: `indirect` too, once reachability analysis
    # writes them (CONTRACT.md section 5).
    leak_rows = {r["address"] for r in rows if r["function"] in ("leak", "indirect")}
    # Blocks given to malloc_trace_ignore or allocated while disabled get no row (api.c).
    for line in result.stdout.splitlines():
        if line.startswith("IGNORED "):
            leak_rows.update(line.split()[1:])
    assert_no_findings(reports, what, leak_rows)
    equal(result.returncode, spec.status,
          f"{what}: exit status (stderr: {result.stderr[-2000:]!r})")
    check(os.path.exists(result.trace_path), f"{what}: no trace")
    if spec.rows:
        assert_expected_rows(result, executable, rows)


def sanitized_run(spec, form, kind, valgrind=False):
    """One test: spec's program in a form, built for kind ("asan", "ubsan-static", or
    "wrap"/"preload" for harness's own builds), under the sanitizers or valgrind."""
    reports = reports_directory()
    if kind in ("asan", "ubsan-static"):
        executable = build_sanitized(spec.source, kind)
    else:
        executable = build(spec.source, kind)
    preload = None
    if form == "preload":
        preload = (os.path.join(STAGE, "lib", "malloc-trace.so") if valgrind
                   else built("ubsan", "malloc-trace.so"))
    if valgrind:
        result = run_program(spec, executable, form,
                             valgrind_command(reports, preload=preload is not None), None,
                             preload)
    else:
        result = run_program(spec, executable, form, (), sanitizer_env(reports), preload)
    check_program_run(spec, result, executable, reports,
                      f"{spec.name} ({kind}{' under valgrind' if valgrind else ''})")


# Which program runs where, and why not elsewhere.
ASAN_EXCLUDED = {
    # gcc 12's ASan allocator has no fork handlers (newer compiler-rt has): a fork while
    # another thread is inside ASan's malloc leaves its lock held in the child, which then
    # hangs. The tracer's flusher thread allocates as it starts (ASan's thread start calls
    # pthread_getattr_np), so even forks.c's first fork can hang. Not the tracer's fault:
    # under glibc's malloc, fork is safe.
    "forks", "forks_stress",
    # The handler frees (only blocks glibc maps on their own, which glibc unmaps without a
    # lock); ASan's free is not async-signal-safe.
    "signals",
    # It probes libstdc++'s operator new with invalid alignments and exhausted memory, which
    # ASan's operator new reports as bugs by design.
    "cxx_semantics",
}
UBSAN_STATIC_EXCLUDED = {"dl_host"}  # a static program does not dlopen (test_symbols too)
VALGRIND_WRAP_EXCLUDED = {
    # It probes operator new on exhausted memory: valgrind's (which the wrap form's
    # __real_ operators call) aborts instead of throwing std::bad_alloc.
    "cxx_semantics",
    # Races, under load: valgrind runs one thread at a time, so memcheck finds nothing more
    # there than in threads and forks, and takes a minute (forks_stress) or ten seconds.
    "forks_stress", "threads_exit",
    # Its main thread spins until another has sent it 3000 signals, each a switch between
    # valgrind's serialized threads: 15 to 45 s (UBSan runs it in a second).
    "signals",
}
# The preload form under valgrind: the programs that go through the preload front-end's
# own code (every C and C++ entry point, dlclose); the rest is the core, the same as in the
# wrap form above (each valgrind run costs a second or more).
VALGRIND_PRELOAD = {"events", "cxx_events", "semantics", "cxx_semantics", "api", "dl_host"}


def define(name, function):
    function.__name__ = name
    globals()[name] = function


for _spec in PROGRAM_LIST:
    if _spec.name not in ASAN_EXCLUDED:
        define(f"test_asan_wrap_{_spec.name}",
               lambda spec=_spec: sanitized_run(spec, "wrap", "asan"))
    define(f"test_ubsan_preload_{_spec.name}",
           lambda spec=_spec: sanitized_run(spec, "preload", "preload"))
    if _spec.name not in UBSAN_STATIC_EXCLUDED:
        define(f"test_ubsan_static_{_spec.name}",
               lambda spec=_spec: sanitized_run(spec, "static", "ubsan-static"))
    if _spec.name not in VALGRIND_WRAP_EXCLUDED:
        define(f"test_valgrind_wrap_{_spec.name}",
               lambda spec=_spec: sanitized_run(spec, "wrap", "wrap", valgrind=True))
    if _spec.name in VALGRIND_PRELOAD:
        define(f"test_valgrind_preload_{_spec.name}",
               lambda spec=_spec: sanitized_run(spec, "preload", "preload", valgrind=True))


# ---- the unit tests --------------------------------------------------------------------

# These check the leak scan against glibc's own heap layout (its main arena, chunk headers)
# and the process's real mappings and threads, which AddressSanitizer's and valgrind's
# allocators and address-space handling replace: they run in the plain build only.
UNIT_TESTS_OF_GLIBCS_HEAP = {"test_leak_scan", "test_memory_map", "test_thread_stop"}


def unit_test_names():
    return sorted(os.path.splitext(name)[0] for name in os.listdir(os.path.join(ROOT, "tests",
                                                                                "unit"))
                  if name.startswith("test_") and name.endswith(".c")
                  and os.path.splitext(name)[0] not in UNIT_TESTS_OF_GLIBCS_HEAP)


def run_unit(program, prefix, env, reports, what):
    # The core's constructor opens the trace file: keep it in the build tree.
    full_env = dict(os.environ, out_file_path=os.path.join(SANITIZE_WORK, "unit.trace.csv"),
                    **env)
    full_env.pop("LD_PRELOAD", None)
    result = subprocess.run([*prefix, program], env=full_env, capture_output=True, text=True,
                            timeout=120)
    assert_no_findings(reports, what)  # the unit tests leak nothing: any leak is one
    equal(result.returncode, 0, f"{what}: exit status\n{result.stdout}{result.stderr}")


def asan_unit(name):
    reports = reports_directory()
    run_unit(built("asan", "tests", "unit", name), (), sanitizer_env(reports), reports,
             f"unit/{name} (asan)")


def valgrind_unit(name):
    reports = reports_directory()
    run_unit(os.path.join(BUILD, "tests", "unit", name),
             valgrind_command(reports, leak_check="full"), {}, reports,
             f"unit/{name} (valgrind)")


for _name in unit_test_names():
    define(f"test_asan_unit_{_name[5:]}", lambda name=_name: asan_unit(name))
    define(f"test_valgrind_unit_{_name[5:]}", lambda name=_name: valgrind_unit(name))


# ---- the command ---------------------------------------------------------------------

def sanitized_stage():
    """An installed tree with the asan command, and the preload library it runs programs
    under (../lib). That library is the plain one: the ubsan one loads libstdc++ (libubsan
    needs it) into C programs, whose startup block would change what the tests of `run`
    expect; the ubsan preload tests above cover it."""
    stage = os.path.join(SANITIZE_WORK, "stage")
    for source, target in ((built("asan", "malloc-trace"), ("bin", "malloc-trace")),
                           (os.path.join(STAGE, "lib", "malloc-trace.so"),
                            ("lib", "malloc-trace.so"))):
        os.makedirs(os.path.join(stage, target[0]), exist_ok=True)
        shutil.copy2(source, os.path.join(stage, *target))
    return stage


def command_test_under_sanitizers(test):
    """Runs one of test_command's tests with the asan command in place of the installed
    one."""
    reports = reports_directory()
    saved_env = dict(os.environ)
    saved_stage = command_tests.STAGE
    stage = sanitized_stage()
    os.environ.update(sanitizer_env(reports))
    command_tests.STAGE = stage
    try:
        test()
    finally:
        command_tests.STAGE = saved_stage
        os.environ.clear()
        os.environ.update(saved_env)
    assert_no_findings(reports, f"the command ({test.__name__})")


for _name in [n for n in vars(command_tests) if n.startswith("test_")]:
    define(f"test_asan_command_{_name[5:]}",
           lambda name=_name: command_test_under_sanitizers(getattr(command_tests, name)))


def valgrind_command_run(reports, *arguments):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    # The command allocates nothing it keeps to the end: every leak is a finding here.
    return subprocess.run([*valgrind_command(reports, leak_check="full"),
                           os.path.join(STAGE, "bin", "malloc-trace"), *arguments], env=env,
                          capture_output=True, text=True, timeout=300)


def test_valgrind_command_golden():
    reports = reports_directory()
    golden = os.path.join(ROOT, "tests", "golden", "report")
    trace = os.path.join(golden, "input.csv")
    junit = os.path.join(SANITIZE_WORK, "junit.xml")
    runs = [(["report", trace], 0, "text.out"),
            (["report", "--format", "folded", trace], 0, "folded.out"),
            (["report", "--format", "json", "--top", "2", trace], 0, "json-top2.out"),
            (["check", trace, "--suppressions", os.path.join(golden, "suppressions.txt"),
              "--max-leaked-bytes", "8192"], 0, "check-suppressed.out"),
            (["report", "--format", "svg", trace], 0, None),
            (["check", trace, "--fail-on-free", "--junit", junit], 1, None)]
    results = [valgrind_command_run(reports, *arguments) for arguments, _, _ in runs]
    assert_no_findings(reports, "the command under valgrind")
    for (arguments, status, name), result in zip(runs, results):
        what = f"malloc-trace {' '.join(arguments[:3])}"
        equal(result.returncode, status, what)
        if name is not None:
            with open(os.path.join(golden, name)) as expected:
                equal(result.stdout, expected.read(), what)


def test_valgrind_command_symbolize():
    reports = reports_directory()
    program = build("leaker.c", "wrap")
    raw = os.path.join(SANITIZE_WORK, "raw.csv")
    if os.path.exists(raw):
        os.unlink(raw)
    env = dict(os.environ, out_file_path=raw, MALLOC_TRACE_SYMBOLS="0")
    env.pop("LD_PRELOAD", None)
    subprocess.run([program, "0", "2", "16"], env=env, check=True, capture_output=True)
    named = os.path.join(SANITIZE_WORK, "named.csv")
    result = valgrind_command_run(reports, "symbolize", raw, "-o", named)
    assert_no_findings(reports, "the command under valgrind")
    equal((result.returncode, result.stderr), (0, ""), "malloc-trace symbolize")
    leaks = [r for r in read_trace(named) if r["size"] == 16]
    equal([r["stack"][1]["f"] for r in leaks], ["leaf", "leaf"], "frames named")


def test_valgrind_nothrow_new_of_an_allocator_library():
    """A C++ program linked with jemalloc or tcmalloc reaches their nothrow operator new,
    under valgrind in the preload form. The preload form's nothrow new called libstdc++'s,
    which memcheck replaces, and its delete gave that block to the allocator's free: jemalloc
    crashed (exit status -11 at 80df253, where the preload form's free became jemalloc's)
    and tcmalloc aborted. The allocator's own nothrow new now serves, as untraced: the
    untraced output, no finding, and the leak is the only row."""
    for allocator in ("libjemalloc.so.2", "libtcmalloc_minimal.so.4"):
        library = os.path.join("/usr/lib/x86_64-linux-gnu", allocator)
        executable = build("allocator_nothrow.cpp", "preload", extra=[library],
                           variant=allocator.split(".")[0])
        untraced = subprocess.run([executable], capture_output=True, text=True, check=True)
        equal(untraced.stdout, "0 999 5\n", f"untraced run ({allocator})")
        reports = reports_directory()
        trace = tempfile.mktemp(prefix="trace.", suffix=".csv", dir=SANITIZE_WORK)
        env = dict(os.environ, out_file_path=trace)
        env.pop("LD_PRELOAD", None)
        result = subprocess.run(
            [*valgrind_command(reports, preload=True), "env",
             f"LD_PRELOAD={os.path.join(STAGE, 'lib', 'malloc-trace.so')}", executable],
            env=env, capture_output=True, text=True, timeout=300)
        rows = read_trace(trace)
        assert_no_findings(reports, f"{allocator} under valgrind",
                           {row["address"] for row in rows})
        equal((result.returncode, result.stdout), (0, untraced.stdout),
              f"exit status, stdout ({allocator}; stderr: {result.stderr[-2000:]!r})")
        program_rows = [(row["function"], row["size"]) for row in rows
                        if "leak_object()" in [frame["f"] for frame in row["stack"]]]
        equal(program_rows, [("leak", 8)], f"rows ({allocator})")
