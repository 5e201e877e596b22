"""Stress: threads that free each other's blocks, fork and exec from a threaded program, exit
from a thread while others allocate, dlopen/dlclose of a library that allocates, vfork and
posix_spawn. Each program runs untraced and in every form that applies to it, at the same
time (each run is bounded by its own clock or work, and more runs than cores only makes the
interleavings more varied), and each traced run must give the untraced run's exit status and
standard output, an empty stderr and a well-formed trace in which:

- no `free` row names a block the program allocated (an orphan free of a block the tracer
  should have held);
- no row at all names a block that was freed: the churn paths (make_block, release_block),
  whose blocks are all freed before the program ends, leave nothing;
- a block leaked on purpose (every pointer to it dropped) has at most one row, an exit row.
  Its kind is not asserted: whether it is `leak` (or `indirect`, or not written) is the
  reachability analysis's call.

A child of fork that hangs is killed by its parent after a few seconds, and the parent's
output says so: a deadlock fails the test in seconds, not at the time limit."""
import concurrent.futures
import glob
import os
import tempfile

from harness import (FORMS, WORK, Failure, build, build_shared, check, equal, program_frames,
                     read_trace, run)

EXIT_KINDS = ("leak", "indirect")
CHURN = ("make_block", "release_block")


def run_forms(source, forms, args=(), env_of=None):
    """Builds source in each form, runs it untraced (the preload form's build has no tracer)
    and in each form, all at once. Returns {form or "none": (program, Run)}."""
    programs = {form: build(source, form) for form in forms}
    programs["none"] = build(source, "preload")
    env_of = env_of or (lambda form: None)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(programs)) as pool:
        futures = {form: pool.submit(run, program, form, env_of(form), args, None, 120)
                   for form, program in programs.items()}
        return {form: (programs[form], future.result()) for form, future in futures.items()}


def each_form(forms, check_form):
    """Runs check_form(form) for every form and reports every form's failure, not only the
    first one's."""
    failures = []
    for form in forms:
        try:
            check_form(form)
        except Failure as failure:
            failures.append(f"{form}: {failure}")
    if failures:
        raise Failure("\n".join(failures))


def assert_same_as_untraced(results, form, expected_status, expected_stdout):
    _, plain = results["none"]
    equal((plain.returncode, plain.stdout), (expected_status, expected_stdout),
          "the untraced run")
    _, result = results[form]
    equal((result.returncode, result.stdout, result.stderr),
          (plain.returncode, plain.stdout, ""), "exit status, stdout, stderr")


def rows_through(rows, program, functions):
    return [r for r in rows if set(program_frames(r, program)) & set(functions)]


def assert_no_orphan_frees(rows, what):
    equal([(r["address"], [f["f"] for f in r["stack"][:4]]) for r in rows
           if r["function"] == "free"], [], f"free rows ({what})")


def assert_no_rows_through(rows, program, functions, what):
    equal([(r["function"], r["address"], program_frames(r, program))
           for r in rows_through(rows, program, functions)], [],
          f"rows of blocks freed in {'/'.join(functions)} ({what})")


def assert_at_most_one_exit_row(rows, at_most, sizes, what):
    """rows: those of blocks leaked on purpose, at most at_most of them (one per block)."""
    for row in rows:
        check(row["function"] in EXIT_KINDS, f"{row['function']} row of a leaked block ({what})")
        check(row["size"] in sizes, f"size {row['size']} of a leaked block ({what})")
    addresses = [r["address"] for r in rows]
    equal(sorted(addresses), sorted(set(addresses)), f"exit rows per leaked block ({what})")
    check(len(rows) <= at_most, f"{len(rows)} rows for {at_most} leaked blocks ({what})")


def test_stress_threads_free_each_others_blocks():
    results = run_forms("stress_threads.c", FORMS)
    sizes = {1000 + thread * 10 + i for thread in range(8) for i in range(4)}

    def check_form(form):
        assert_same_as_untraced(results, form, 0, "threads 8\ncorrupt blocks 0\n"
                                                  "blocks freed by another thread: over 1000\n")
        program, result = results[form]
        rows = result.rows()
        assert_no_orphan_frees(rows, form)
        assert_no_rows_through(rows, program, CHURN, form)
        assert_at_most_one_exit_row(rows_through(rows, program, ["leak_on_purpose"]), 32,
                                    sizes, form)

    each_form(FORMS, check_form)


def read_log(path):
    """The lines a program wrote to $STRESS_LOG, as (what, pid) pairs."""
    with open(path) as log:
        return [(what, int(pid)) for what, pid in (line.split() for line in log)]


def assert_in_flight_churn(rows, program, threads, what):
    """Blocks the churn threads held when the exit pass ran (queued, or in a thread's hands:
    a forked child that exits owns those of the parent's threads at the fork) are written at
    most once each, as exit rows, and there are no more of them than the queue holds plus
    two a thread."""
    held = rows_through(rows, program, CHURN)
    for row in held:
        check(row["function"] in EXIT_KINDS, f"{row['function']} row of a churn block ({what})")
    addresses = [r["address"] for r in held]
    equal(len(addresses), len(set(addresses)), f"rows per churn block ({what})")
    check(len(held) <= 1024 + 2 * threads, f"{len(held)} churn blocks ({what})")


def test_stress_fork_while_threads_allocate():
    directories = {form: tempfile.mkdtemp(prefix=f"stress-fork.{form}.", dir=WORK)
                   for form in (*FORMS, "none")}
    results = run_forms("stress_fork.c", FORMS, env_of=lambda form: {
        "STRESS_LOG": os.path.join(directories[form], "log"),
        "out_file_path": os.path.join(directories[form], "trace.%p.csv")})
    child_functions = ["child_allocates_and_frees", "child_keeps_until_exec"]

    def check_form(form):
        program, _ = results[form]
        log = read_log(os.path.join(directories[form], "log"))
        equal([what for what, _ in log], ["parent"] + ["exec", "exit", "exec", "exec"] * 4,
              "processes")
        traces = {int(os.path.basename(p).split(".")[1]): p
                  for p in glob.glob(os.path.join(directories[form], "trace.*.csv"))}
        check(set(traces) <= {pid for _, pid in log}, "files of other processes")
        for kind, pid in log:
            where = f"{kind} {pid}"
            if kind == "exec" and form != "preload" and pid not in traces:
                continue  # no exit pass: whether the file was opened is the tracer's affair
            check(pid in traces, f"no trace ({where})")
            rows = read_trace(traces[pid])
            assert_no_orphan_frees(rows, where)
            # Blocks a child freed, and blocks an exec discarded (no exit pass), leave nothing.
            assert_no_rows_through(rows, program, child_functions, where)
            if kind == "parent":
                assert_no_rows_through(rows, program, CHURN, where)
                assert_no_rows_through(rows, program, ["leak_on_purpose"], where)
            elif kind == "exit":
                assert_in_flight_churn(rows, program, 4, where)
                assert_at_most_one_exit_row(rows_through(rows, program, ["leak_on_purpose"]),
                                            1, {555}, where)
            else:  # /bin/true, traced too in the preload form (LD_PRELOAD is inherited)
                equal([r for r in rows if program_frames(r, program)], [],
                      f"rows of the program in the exec'd one ({where})")
        # Last: a hung child (killed after 5 s) shows here, after what its trace says.
        assert_same_as_untraced(results, form, 0, "children that exited with 0: 16 of 16\n"
                                                  "corrupt blocks 0\n")

    each_form(FORMS, check_form)


def test_stress_fork_while_threads_unwind():
    """The fork handlers must leave no lock of the unwinder held in the child (see
    stress_fork_unwind.c): every child's first allocation captures a stack."""
    results = run_forms("stress_fork_unwind.c", FORMS)
    each_form(FORMS, lambda form: assert_same_as_untraced(results, form, 0,
                                                          "20 children exited with 0\n"))


def test_stress_exit_from_a_thread_while_others_allocate():
    results = run_forms("stress_exit_thread.c", FORMS)

    def check_form(form):
        assert_same_as_untraced(results, form, 7, "exiting from a thread; corrupt blocks so "
                                                  "far 0\n")
        program, result = results[form]
        rows = result.rows()
        # A block freed by a churn thread during or after the exit pass is no orphan free.
        assert_no_orphan_frees(rows, form)
        assert_in_flight_churn(rows, program, 7, form)
        assert_at_most_one_exit_row(rows_through(rows, program, ["leak_on_purpose"]), 3,
                                    {700, 701, 702}, form)

    each_form(FORMS, check_form)


def test_stress_dlopen_dlclose_of_a_library_that_allocates():
    library = build_shared("stress_dl_lib.c", "libstress_dl.so")
    # Not the static form: a static program's dlopen loads a second libc, whose malloc the
    # program's free must never see.
    forms = ("wrap", "preload")
    results = run_forms("stress_dlopen.c", forms, args=[library], )

    def check_form(form):
        assert_same_as_untraced(results, form, 0, "rounds 150 of 150\ncorrupt blocks 0\n")
        program, result = results[form]
        rows = result.rows()
        assert_no_rows_through(rows, program, CHURN, form)
        in_library = [r for r in rows if any(f["m"] == library for f in r["stack"])]
        if form == "wrap":
            # The library's own calls are out of --wrap's reach: each block it hands over is
            # an orphan free in the program (the README says so), and nothing else is seen.
            equal(in_library, [], "rows from the library")
            frees = [r for r in rows if r["function"] == "free"]
            equal(len(frees), 150, "orphan frees of the library's blocks")
            for row in frees:
                equal(([f["f"] for f in row["stack"][:2]], row["stack"][1]["m"], row["size"]),
                      (["free", "host_frees"], program, 0), "an orphan free")
            equal(len(rows), 150, "rows")
            return
        assert_no_orphan_frees(rows, form)
        # What lib_work and the constructor freed, and what the destructor freed, leave
        # nothing; the block lib_leak drops each load is named from the library even though
        # it was unloaded (and loaded again, often at the same address) since.
        leaked = [r for r in in_library if r["stack"][1]["f"] == "lib_leak"]
        equal([([f["f"] for f in r["stack"][:3]], r["function"]) for r in in_library
               if r not in leaked], [], "rows of blocks the library freed")
        assert_at_most_one_exit_row(leaked, 150, {77}, form)
        for row in leaked:
            equal(([f["f"] for f in row["stack"][:3]], row["stack"][1]["m"]),
                  (["malloc", "lib_leak", "lib_load"], library), "frames of lib_leak's block")

    each_form(forms, check_form)


def test_stress_vfork_and_posix_spawn():
    results = run_forms("stress_spawn.c", FORMS)

    def check_form(form):
        assert_same_as_untraced(results, form, 0, "vfork + exec: 12 of 12 exited with 0\n"
                                                  "posix_spawn: 12 of 12 exited with 0\n"
                                                  "posix_spawnp: 12 of 12 exited with 0\n"
                                                  "corrupt blocks 0\n")
        program, result = results[form]
        # In the preload form the 36 children (/bin/true) are traced too, into the same
        # file: still one header, whole lines.
        with open(result.trace_path) as trace:
            equal(trace.read().count("function;thread_id"), 1, "headers")
        rows = result.rows()
        # posix_spawn's file actions and attributes are allocated and freed in the parent.
        assert_no_orphan_frees(rows, form)
        assert_no_rows_through(rows, program, CHURN + ("start_with_posix_spawn",
                                                       "start_with_vfork"), form)

    each_form(FORMS, check_form)
