"""The compact unwind tables (MALLOC_TRACE_UNWIND=tables, the default) give exactly the
stacks libunwind gives: every row of a trace taken each way, unsymbolized (so that frames
are compared as module offsets), in every form, for programs built with and without frame
pointers, and for programs from Debian. That the tables, not the fallback, took those stacks
is tests/unit/test_unwind_table.c's part."""
import collections
import os

from harness import FORMS, build, check, equal, read_trace, run

SETTINGS = {"MALLOC_TRACE_SYMBOLS": "0", "MALLOC_TRACE_REACHABLE": "1"}

PYTHON_SCRIPT = """
import json, threading
def work(n):
    global kept
    kept = [{str(i): [i, str(i) * 3]} for i in range(n)]
    return len(json.dumps(kept))
thread = threading.Thread(target=work, args=(3000,))
thread.start(); thread.join()
print(work(2000))
"""


def rows_by_stack(path):
    """How many rows of each (event, size, stack): what an unwinder decides."""
    return collections.Counter((r["function"], r["size"], repr(r["stack"]))
                               for r in read_trace(path))


def assert_same_rows(tables, libunwind, what):
    only_tables = tables - libunwind
    only_libunwind = libunwind - tables
    equal((sorted(only_tables)[:1], sorted(only_libunwind)[:1]), ([], []),
          f"rows that differ ({what}: {sum(only_tables.values())} with the tables only, "
          f"{sum(only_libunwind.values())} with libunwind only)")


def compare_test_program(source, optimization):
    for form in FORMS:
        program = build(source, form, optimization=optimization)
        traces = {}
        for unwinder in ("tables", "libunwind"):
            result = run(program, form, env=dict(SETTINGS, MALLOC_TRACE_UNWIND=unwinder))
            equal((result.returncode, result.stderr), (0, ""), f"{source} {form} {unwinder}")
            traces[unwinder] = rows_by_stack(result.trace_path)
        deep = sum(n for (_, _, stack), n in traces["tables"].items() if stack.count("{") > 4)
        check(deep >= 4, f"{source} {form}: only {deep} rows with a stack of 5 frames or more")
        assert_same_rows(traces["tables"], traces["libunwind"], f"{source} {form}")


def test_c_program_with_frame_pointers():
    compare_test_program("events.c", "-O0")


def test_c_program_without_frame_pointers():
    compare_test_program("events.c", "-O2")


def test_cxx_program_without_frame_pointers():
    compare_test_program("cxx_events.cpp", "-O2")


def compare_debian_program(command, least_rows):
    traces = {}
    for unwinder in ("tables", "libunwind"):
        result = run(command[0], "preload", args=command[1:], timeout=120,
                     env=dict(SETTINGS, MALLOC_TRACE_UNWIND=unwinder, PYTHONHASHSEED="0",
                              PYTHONMALLOC="malloc"))
        equal((result.returncode, result.stderr), (0, ""), f"{command[0]} {unwinder}")
        traces[unwinder] = rows_by_stack(result.trace_path)
        os.unlink(result.trace_path)
    check(sum(traces["tables"].values()) >= least_rows,
          f"{command[0]}: {sum(traces['tables'].values())} rows")
    assert_same_rows(traces["tables"], traces["libunwind"], command[0])


def test_python3_with_a_thread():
    compare_debian_program(["python3", "-c", PYTHON_SCRIPT], 500)


def test_sqlite3():
    compare_debian_program(["sqlite3", ":memory:", "create table t(a, b); "
                            "insert into t values (1, 'one'), (2, 'two'); "
                            "create index i on t(b); select a from t where b = 'two';"], 10)


def test_first_walk_through_a_library_in_the_smallest_stack():
    """A thread made with PTHREAD_STACK_MIN, below most of it in locals, makes the first
    allocation through zlib, whose unwind table the tracer builds then. Until edd762f the
    table was built on the thread's own stack (3 to 4 KiB more), and every capture kept its
    frames there (2 KiB): with 6 KiB of locals the preload form crashed where untraced runs
    with 10. Now the tracer takes at most 2 KiB of such a stack beyond what the program
    needs untraced (its thread-local storage, which glibc carves out of each thread's stack,
    is about 1 KiB of that)."""
    untraced = build("first_walk_in_a_small_stack.c", "preload", extra=["-lz"])
    expected = "pthread_create 0, deflateInit 0\n"

    def runs(locals_bytes):
        result = run(untraced, "none", args=[str(locals_bytes)], timeout=30)
        return (result.returncode, result.stdout) == (0, expected)
    # The most locals the program runs with untraced, to 64 bytes: the loader's first
    # binding of a symbol takes more or less of the stack as the processor saves more or
    # less of its state.
    low, high = 2048, 16384
    check(runs(low) and not runs(high), "untraced: 2 KiB of locals run, 16 KiB do not")
    while high - low > 64:
        middle = (low + high) // 2
        low, high = (middle, high) if runs(middle) else (low, middle)
    for form in FORMS:
        program = build("first_walk_in_a_small_stack.c", form, extra=["-lz"])
        for unwinder in ("tables", "fp"):
            result = run(program, form, args=[str(low - 2048)], timeout=30,
                         env={"MALLOC_TRACE_UNWIND": unwinder})
            equal((result.returncode, result.stdout, result.stderr), (0, expected, ""),
                  f"{form}, {unwinder}, {low - 2048} bytes of locals (untraced: {low})")


def test_handler_on_a_small_alternate_stack():
    """A signal handler that allocates on an alternate signal stack of 8 KiB (SIGSTKSZ as it
    was), an inaccessible page below it. The unwind tables stop at the signal frame, and
    until ed56385 the tracer then called libunwind, whose walk takes some 5 KiB: after the
    kernel's signal frame (3.4 KiB where the processor has AVX-512 state) that ran past the
    stack's end (the preload form crashed; into a heap block below the stack, glibc aborted
    in free). Now such a stack ends at the signal frame, said once; with room enough (64
    KiB) the stack is libunwind's, through the signal frame into main."""
    message = ("malloc-trace: a signal handler allocated on an alternate signal stack "
               "(sigaltstack) with less than 8 KiB left, too little for libunwind: its stacks "
               "end at the signal frame\n")
    untraced = build("handler_on_an_alternate_stack.c", "preload")
    result = run(untraced, "none", args=["8192"], timeout=30)
    equal((result.returncode, result.stdout), (0, "handled 10\n"), "untraced")
    for form in FORMS:
        program = build("handler_on_an_alternate_stack.c", form)
        # fp walks the frame pointers with no fallback, so it needs no check of the room;
        # libunwind (not in a static program, whose threads' static TLS its caches take)
        # needs 16 KiB, as the README says.
        for unwinder, size, stderr in (("tables", "8192", message), ("tables", "65536", ""),
                                       ("fp", "8192", ""), ("libunwind", "65536", "")):
            if unwinder == "libunwind" and form == "static":
                continue
            what = f"{form}, {unwinder}, {size} bytes"
            result = run(program, form, args=[size], timeout=30,
                         env={"MALLOC_TRACE_UNWIND": unwinder, "MALLOC_TRACE_REACHABLE": "1"})
            equal((result.returncode, result.stdout, result.stderr),
                  (0, "handled 10\n", stderr), what)
            stacks = [[frame["f"] for frame in row["stack"]]
                      for row in read_trace(result.trace_path)
                      if row["function"] == "reachable" and row["size"] == 1234]
            equal(len(stacks), 10, f"{what}: the handler's blocks")
            for names in stacks:
                if unwinder == "fp":
                    # past the signal frame, what rbp held in libc's raise, which keeps none
                    equal(names[:2], ["malloc", "handle_signal"], f"{what}: {names}")
                elif size == "65536":
                    check(names[:2] == ["malloc", "handle_signal"] and "main" in names,
                          f"{what}: a whole stack: {names}")
                else:
                    # the handler, and the signal frame's return address (libc's
                    # __restore_rt, a local symbol: named by its offset)
                    equal(names[:2] + [len(names)], ["malloc", "handle_signal", 3],
                          f"{what}: a stack cut at the signal frame: {names}")


def test_rbp_as_a_plain_register():
    """A caller of malloc that holds -16, or -8, in rbp, as code built without frame pointers
    may (python3, as and ld do): with MALLOC_TRACE_UNWIND=fp the walk took it for a frame just
    below the top of the address space, whose bound wrapped to 0 and passed, and the program
    died of a SIGSEGV in the tracer until 2b9614d. Now the frame-pointer walk ends there;
    the tables and libunwind go on by the function's unwind information, into main."""
    for form in FORMS:
        program = build("rbp_as_a_plain_register.c", form)
        for rbp in ("fffffffffffffff0", "fffffffffffffff8"):
            for unwinder in ("fp", "tables") + (("libunwind",) if form != "static" else ()):
                what = f"{form}, {unwinder}, rbp 0x{rbp}"
                result = run(program, form, args=[rbp], timeout=30,
                             env={"MALLOC_TRACE_UNWIND": unwinder, "MALLOC_TRACE_REACHABLE": "1"})
                equal((result.returncode, result.stdout, result.stderr), (0, "allocated\n", ""),
                      what)
                stacks = [[frame["f"] for frame in row["stack"]]
                          for row in read_trace(result.trace_path)
                          if row["function"] == "reachable" and row["size"] == 1234]
                equal(len(stacks), 1, f"{what}: the block's row")
                if unwinder == "fp":
                    equal(stacks[0], ["malloc", "malloc_with_rbp"], what)
                else:
                    equal(stacks[0][:3], ["malloc", "malloc_with_rbp", "main"], what)


def test_thread_with_the_smallest_stack():
    # The unwind cache lives in memory from mmap, not in static TLS (which glibc carves out
    # of each thread's stack), and the stack's bounds come without pthread_getattr_np's lock.
    # libunwind itself needs more of such a stack than a static program leaves (its caches
    # are in that program's static TLS): there the tables are the only way (README).
    for form in FORMS:
        program = build("small_stack.c", form)
        for unwinder in ("tables", "fp") + (("libunwind",) if form != "static" else ()):
            result = run(program, form, timeout=30,
                         env={"MALLOC_TRACE_UNWIND": unwinder, "MALLOC_TRACE_REACHABLE": "1"})
            equal((result.returncode, result.stdout, result.stderr),
                  (0, "pthread_create 0, allocated 100\n", ""), f"{form}, {unwinder}")
            # The block the thread keeps, with its stack taken on the small stack.
            kept = [[frame["f"] for frame in row["stack"][:11]]
                    for row in read_trace(result.trace_path)
                    if row["function"] == "reachable" and row["size"] == 100]
            equal(kept, [["malloc"] + ["allocate_in_small_stack"] * 9 + ["allocate_below_locals"]],
                  f"{form}, {unwinder}: the kept block's frames")
        # Below 6 KiB of the thread's own, about 3 KiB short of what untraced crashes at:
        # until 73006b0 the dynamic wrap form crashed there, at libunwind's first call.
        result = run(program, form, timeout=30, args=["6144"])
        equal((result.returncode, result.stdout, result.stderr),
              (0, "pthread_create 0, allocated 100\n", ""), f"{form}, below 6 KiB of locals")
