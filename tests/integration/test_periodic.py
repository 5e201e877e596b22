"""The periodic flush (malloc_second_peremption=1): suspects written once, late frees, and a
trace file moved away while the program runs."""
import json
import os
import subprocess

from harness import BUILD, WORK, assert_expected_rows, build, check, equal, read_trace, run

PERIOD = {"malloc_second_peremption": "1"}


def late_free_in(form):
    program = build("periodic.c", form)
    result = run(program, form, env=PERIOD, args=["late"])
    equal(result.returncode, 0, "exit status")
    equal(result.stderr, "", "stderr")
    rows = result.rows()
    assert_expected_rows(result, program, rows)
    # The suspect is written once although three flushes saw it, before its late free.
    kept = result.expected[0]["address"]
    late = result.expected[1]["address"]
    order = [(r["function"], r["address"]) for r in rows if r["address"] in (kept, late)]
    check(order.index(("malloc", late)) < order.index(("free", late)), f"order: {order}")
    equal(order[-1], ("leak", kept), "last row")
    malloc_row = next(r for r in rows if r["function"] == "malloc" and r["address"] == late)
    free_row = next(r for r in rows if r["function"] == "free" and r["address"] == late)
    check(2300 <= free_row["timestamp_ms"] - malloc_row["timestamp_ms"] <= 4000,
          "the free row carries the time of the free, the malloc row that of the allocation")
    # Settled: the late free by its free row, the cached block by its reachable row.
    report = subprocess.run([os.path.join(BUILD, "malloc-trace"), "report", "--format", "json",
                             result.trace_path], capture_output=True, text=True)
    equal(report.returncode, 0, "report's exit status")
    summary = json.loads(report.stdout)
    equal((summary["total_bytes"], summary["total_blocks"]), (111, 1), "what stays outstanding")


def test_late_free_wrap():
    late_free_in("wrap")


def test_late_free_static():
    late_free_in("static")


def test_late_free_preload():
    late_free_in("preload")


def moved_file_in(form):
    program = build("periodic.c", form)
    moved = os.path.join(WORK, f"moved.{form}.csv")
    if os.path.exists(moved):
        os.unlink(moved)
    result = run(program, form, env=PERIOD, args=["move", moved])
    equal(result.returncode, 0, "exit status")
    equal(result.stderr, "", "stderr")
    kept = result.expected[0]["address"]
    before = [(r["function"], r["address"]) for r in read_trace(moved)
              if len(r["stack"]) > 1]
    equal(before, [("malloc", kept)], "rows in the moved file")
    assert_expected_rows(result, program)  # the re-created file: header, then the exit rows


def test_moved_file_wrap():
    moved_file_in("wrap")


def test_moved_file_static():
    moved_file_in("static")


def test_moved_file_preload():
    moved_file_in("preload")


def test_getline_buffer_keeps_its_record_wrap():
    for form in ("wrap", "static"):
        program = build("periodic.c", form)
        result = run(program, form, env=PERIOD, args=["getline"])
        equal((result.returncode, result.stderr), (0, ""), f"exit status, stderr ({form})")
        assert_expected_rows(result, program)
