"""The leak scan at exit and on demand: each block of programs with known layouts gets its
exact class (leak, indirect, reachable) in every form, and what libc and libstdc++ keep is
never a leak."""
import os
import tempfile

from harness import (FORMS, WORK, assert_expected_rows, build, check, check_named_by_symbolize,
                     equal, program_frames, run)

UNREACHABLE = ("leak", "indirect")


def unexpected_unreachable(result, rows):
    """The leak and indirect rows that no EXPECT line names."""
    expected = {e["address"] for e in result.expected}
    return [(r["function"], r["size"], [f["f"] for f in r["stack"][:4]]) for r in rows
            if r["function"] in UNREACHABLE and r["address"] not in expected]


def layouts_in(source, form):
    program = build(source, form)
    result = run(program, form, env={"MALLOC_TRACE_REACHABLE": "1"})
    equal(result.returncode, 0, "exit status")
    equal(result.stderr, "", "stderr")
    rows = result.rows()
    named = {e["address"] for e in result.expected}
    # Reachable rows of blocks libc allocated for the program (threads' TLS) are fine.
    assert_expected_rows(result, program,
                         [r for r in rows if r["function"] != "reachable" or r["address"] in named])
    equal(unexpected_unreachable(result, rows), [], "leaks nobody expected")
    # By default the same verdicts, without the reachable rows.
    default = run(program, form)
    equal(default.returncode, 0, "exit status")
    default_rows = default.rows()
    equal([r for r in default_rows if r["function"] == "reachable"], [], "reachable rows")
    equal(sorted(e["kind"] for e in default.expected if e["kind"] in UNREACHABLE),
          sorted(r["function"] for r in default_rows if r["function"] in UNREACHABLE),
          "leak and indirect rows by default")


def test_c_layouts_wrap():
    layouts_in("reachability.c", "wrap")


def test_c_layouts_static():
    layouts_in("reachability.c", "static")


def test_c_layouts_preload():
    layouts_in("reachability.c", "preload")


def test_cxx_layouts_wrap():
    layouts_in("cxx_reachability.cpp", "wrap")


def test_cxx_layouts_static():
    layouts_in("cxx_reachability.cpp", "static")


def test_cxx_layouts_preload():
    layouts_in("cxx_reachability.cpp", "preload")


def test_exit_from_a_function_main_called():
    for form in FORMS:
        layouts_in("exit_from_main.c", form)


def test_printf_only_leaks_nothing():
    for form in FORMS:
        program = build("printf_only.c", form)
        result = run(program, form, args=["x"])
        equal(result.returncode, 0, f"exit status ({form})")
        equal(result.stdout, f"{program} has 1 argument(s)\ndone\n", f"stdout ({form})")
        equal(result.stderr, "to stderr too\n", f"stderr ({form})")
        equal([r["function"] for r in result.rows()], [], f"rows ({form})")


def only_the_expected_rows(source):
    """In every form: exit status 0, nothing on stderr, the rows the program expects, and no
    other leak, indirect leak or free row."""
    for form in FORMS:
        program = build(source, form)
        result = run(program, form)
        equal((result.returncode, result.stderr), (0, ""), f"exit status, stderr ({form})")
        rows = result.rows()
        assert_expected_rows(result, program, rows)
        equal(unexpected_unreachable(result, rows), [], f"leaks nobody expected ({form})")
        equal([(r["function"], r["address"]) for r in rows if r["function"] == "free"], [],
              f"free rows ({form})")


def test_what_the_loader_allocates_is_no_leak():
    """Until 30acef5 the preload form wrote a leak of 56 bytes from _dl_map_object_deps for a
    thread that called pthread_exit, and for a dlopen of libgcc_s (the preload library's own
    dependency): the array lies in a link map of the loader's own memory. As LeakSanitizer
    decides, what the loader allocates is reachable, and scanned."""
    only_the_expected_rows("loader_blocks.c")


def test_threads_that_check_leaks_and_end():
    """No orphan free from a thread that ran malloc_trace_check_leaks() and ended: in the
    static form (until 0ffca79) glibc freed the error of the scan's failed dlsym then."""
    only_the_expected_rows("check_leaks_in_a_thread.c")


def test_check_leaks_on_demand():
    for form in FORMS:
        program = build("check_leaks.c", form)
        result = run(program, form)
        equal(result.returncode, 0, f"exit status ({form})")
        equal(result.stderr, "", f"stderr ({form})")
        check("FOUND 2 2\n" in result.stdout, f"check_leaks' counts ({form}): {result.stdout}")
        rows = result.rows()
        assert_expected_rows(result, program, rows)
        equal(unexpected_unreachable(result, rows), [], f"leaks nobody expected ({form})")
        # The rows of the first check come before those of the exit pass.
        order = [r["size"] for r in rows if r["function"] in UNREACHABLE]
        equal(sorted(order[:2]), [16, 32], f"rows of the check first ({form})")


def test_a_failed_dlsym_leaves_no_false_leak():
    """The program's dlsym fails, which leaves glibc's error state for its dlerror() in a block
    held by libc's thread-local storage; then malloc_trace_check_leaks() and the exit pass:
    only the program's own leak is written, and its dlerror() still finds its error. Until
    fa97115 the tracer's own dlsym in the passes freed that block inside the tracer (a record
    left in the table: a `leak` of 24 bytes at _dlerror_run) and cleared the error."""
    for form in ("wrap", "preload"):
        program = build("failed_dlsym.c", form)
        result = run(program, form)
        equal((result.returncode, result.stderr), (0, ""), f"exit status, stderr ({form})")
        check("FOUND 1 missing error kept\n" in result.stdout,
              f"check_leaks' count, dlerror ({form}): {result.stdout}")
        rows = result.rows()
        assert_expected_rows(result, program, rows)
        equal(unexpected_unreachable(result, rows), [], f"leaks nobody expected ({form})")


def test_passes_on_a_program_with_a_small_stack():
    """A program that set RLIMIT_STACK to 64 KiB: malloc_trace_check_leaks and the exit pass
    name the frames on the tracer's own stack (libdw takes 160 to 190 KiB); on the program's
    both crashed the program."""
    for form in FORMS:
        program = build("stack_limit.c", form)
        result = run(program, form)
        equal((result.returncode, result.stderr), (0, ""), f"exit status, stderr ({form})")
        check("FOUND 1\n" in result.stdout, f"check_leaks' count ({form}): {result.stdout}")
        rows = result.rows()
        assert_expected_rows(result, program, rows)
        equal(unexpected_unreachable(result, rows), [], f"leaks nobody expected ({form})")


def test_program_that_lowers_its_limit_on_address_space():
    """A limit on address space that the program sets itself, after the tracer reserved its
    tables: the tracer keeps what os_reserve would take under it, so the program's own 64 MiB
    and the exit rows have room (both were refused, and the trace had its header only)."""
    for form in FORMS:
        program = build("address_limit.c", form)
        for setter in ("setrlimit", "prlimit"):
            result = run(program, form, args=[setter])
            equal((result.returncode, result.stderr), (0, ""),
                  f"exit status, stderr ({form}, {setter})")
            check("NO MEMORY" not in result.stdout, f"the program's 64 MiB ({form}, {setter})")
            rows = result.rows()
            assert_expected_rows(result, program, rows)
            equal(unexpected_unreachable(result, rows), [], f"leaks nobody expected ({form})")


def test_rows_at_exit_when_memory_is_exhausted():
    """The program holds all the memory its limit allows at exit: no leak scan, no memory to
    name frames or to hold the rows. Every block still gets its leak row, written a batch at a
    time from room kept for it, with its frames as MODULE+0xOFFSET, which symbolize names
    (every row was lost, and a line said that every block was written; until bc619dc the
    frames were bare return addresses, in no module)."""
    scan = ("malloc-trace: the leak scan cannot run (no memory, or /proc/self/maps cannot be "
            "read: a chroot, a limit on descriptors): every block left is written as a leak")
    names = ("malloc-trace: less than 32 MiB of memory left to read debug information: stacks "
             "not named before are written as MODULE+0xOFFSET")
    untraced = ("malloc-trace: out of memory for the tracer's own tables: some blocks are not "
                "traced, and frees of addresses not held are no longer written")
    for form in FORMS:
        program = build("memory_exhausted_at_exit.c", form)
        result = run(program, form)
        equal(result.returncode, 0, f"exit status ({form})")
        lines = result.stderr.splitlines()
        equal([line for line in lines if line != untraced], [scan, names], f"stderr ({form})")
        blocks = int(result.stdout.split("BLOCKS ")[1])
        rows = result.rows()
        assert_expected_rows(result, program, rows)
        taken = [row for row in rows if row["function"] == "leak" and row["size"] == 1024]
        if untraced in lines:  # the tables could not grow for the last blocks
            check(blocks * 0.99 <= len(taken) < blocks, f"rows of {blocks} blocks ({form}): {len(taken)}")
        else:
            equal(len(taken), blocks, f"rows of the blocks ({form})")
        check_named_by_symbolize(result, program, 91, ["take", "main"], form)


def test_a_daemon_in_a_chroot():
    """A daemon that goes into a chroot with no /proc before it exits: the leak scan reads
    the process's mappings and threads through a descriptor of /proc/self taken at start, so
    only the leak is written; until e451cb0 every block was (the one a global points to, and
    libc's own). The modules cannot be opened there: the stacks so far are named before the
    chroot, which leaves the files of their modules open for the child's stack. The file
    held stays, without a word: until fa97115 each process said `cannot open PATH: No such
    file or directory` at exit (the path leads nowhere in the chroot), and the frames were
    MODULE+0xOFFSET."""
    if os.geteuid() != 0:
        return  # chroot needs root; CI runs as root
    for form in FORMS:
        program = build("chrooted_daemon.c", form)
        root = tempfile.mkdtemp(prefix="chroot.", dir=WORK)
        result = run(program, form, args=[root])
        equal((result.returncode, result.stderr), (0, ""), f"exit status, stderr ({form})")
        rows = result.rows()
        equal(assert_expected_rows(result, program, rows), [], f"other rows ({form})")
        # A child forked in the chroot finds its own /proc directory beside its parent's.
        result = run(program, form, args=[root, "fork"])
        equal((result.returncode, result.stderr), (0, ""),
              f"forked: exit status, stderr ({form})")
        rows = result.rows()
        equal(sorted((r["size"], program_frames(r, program)[:1][0]) for r in rows
                     if r["function"] == "leak" and r["size"] in (21, 33, 64)),
              [(21, "leak_in_child"), (33, "leak"), (33, "leak")],
              f"the leaks, the child's and the parent's, named ({form})")


def test_no_orphan_frees_once_blocks_were_lost():
    """Once the tables could not hold a block, a free of an address not held may be of such
    a block: no orphan free row is written then, and the line that says blocks were lost
    says so too (until 047c655 the preload form wrote about 3,000 such rows)."""
    lost = ("malloc-trace: out of memory for the tracer's own tables: some blocks are not "
            "traced, and frees of addresses not held are no longer written")
    losing = []
    for form in FORMS:
        program = build("frees_after_blocks_were_lost.c", form)
        result = run(program, form)
        equal(result.returncode, 0, f"exit status ({form})")
        check(int(result.stdout.split("FREED ")[1]) > 0, f"frees ({form}): {result.stdout}")
        # Whether the tables lose blocks depends on where the limit falls (not in every run of
        # the static form): some form must have lost some.
        if lost in result.stderr.splitlines():
            losing.append(form)
        equal([r["address"] for r in result.rows() if r["function"] == "free"], [],
              f"free rows ({form})")
    check(losing, "no form lost blocks: the test tested nothing")


def test_thread_that_ends_while_the_scan_waits_for_it():
    """A thread that blocks every signal ends while a scan waits for it to stop: gone, not a
    thread that could not be stopped (a line said so, after the whole 2 s wait)."""
    for form in FORMS:
        program = build("thread_ending_during_a_scan.c", form)
        result = run(program, form)
        equal((result.returncode, result.stdout, result.stderr), (0, "FOUND 1\n", ""),
              f"exit status, stdout, stderr ({form})")
        leaks = [(row["function"], row["size"]) for row in result.rows()
                 if "leak_a_block" in program_frames(row, program)]
        equal(leaks, [("leak", 55)], f"leak rows ({form})")


def test_leak_scans_while_threads_come_and_go():
    """50 scans while threads start and end without pause: a thread on its way out (every
    signal blocked) that waits for a lock the scan holds is found napping in a system call.
    It was taken for a thread that could not be stopped, when the scan looked once and saw
    it between two naps: 6 to 15 such lines a run (static and preload) at 949105e."""
    for form in FORMS:
        program = build("scans_during_thread_churn.c", form)
        result = run(program, form, timeout=120)
        equal((result.returncode, result.stdout, result.stderr), (0, "FOUND 0\n", ""),
              f"exit status, stdout, stderr ({form})")


def test_threads_that_block_every_signal():
    for form in FORMS:
        program = build("blocked_signals.c", form)
        result = run(program, form, env={"MALLOC_TRACE_REACHABLE": "1"})
        equal(result.returncode, 0, f"exit status ({form})")
        spinner = next(l.split()[1] for l in result.stdout.splitlines()
                       if l.startswith("SPINNER "))
        equal(result.stderr, f"malloc-trace: thread {spinner} could not be stopped for the leak "
              "scan: blocks only it holds may be reported as leaks\n", f"stderr ({form})")
        # The spinner's thread-local storage is found through its control block, at the top
        # of its stack, even though its stack pointer is unknown.
        rows = result.rows()
        named = {e["address"] for e in result.expected}
        assert_expected_rows(result, program,
                             [r for r in rows if r["function"] != "reachable"
                              or r["address"] in named])
        equal(unexpected_unreachable(result, rows), [], f"leaks nobody expected ({form})")
