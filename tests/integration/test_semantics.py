"""What a call returns, its errno and alignment are the same traced or not; the runtime API
works in every form and is harmless without the tracer."""
from harness import FORMS, assert_expected_rows, build, equal, pkg_config, run


def test_semantics_unchanged():
    untraced = build("semantics.c", "preload")  # the preload form's build has no tracer
    plain = run(untraced, "none")
    equal(plain.returncode, 0, "untraced exit status")
    for form in FORMS:
        program = build("semantics.c", form)
        result = run(program, form)
        equal(result.returncode, 0, f"exit status ({form})")
        equal(result.stderr, "", f"stderr ({form})")
        strip = lambda text: [l for l in text.splitlines() if not l.startswith("EXPECT")]
        equal(strip(result.stdout), strip(plain.stdout), f"results ({form})")
        # The block a failed realloc left in place is still tracked.
        assert_expected_rows(result, program)


def test_new_handler_run_by_nothrow_new_is_traced():
    """What a new-handler frees and allocates, run by a failing nothrow operator new, is
    traced: no leak, no orphan free (the preload form wrote both)."""
    for form in FORMS:
        extra = pkg_config("--variable=static_cxx") if form == "static" else []
        program = build("new_handler_in_nothrow_new.cpp", form, extra=extra)
        result = run(program, form)
        equal((result.returncode, result.stdout, result.stderr, result.rows()),
              (0, "result NULL, reserve released\n", "", []),
              f"exit status, stdout, stderr, rows ({form})")


def test_runtime_api_every_form():
    for form in FORMS:
        program = build("api.c", form)
        result = run(program, form)
        equal(result.returncode, 0, f"exit status ({form})")
        equal(result.stdout.splitlines()[0], "TRACED 1", f"API present ({form})")
        equal(result.stderr, "", f"stderr ({form})")
        assert_expected_rows(result, program)


def test_runtime_api_without_tracer():
    program = build("api.c", "preload")
    result = run(program, "none")
    equal(result.returncode, 0, "exit status")
    equal(result.stdout.splitlines()[0], "TRACED 0", "API absent")


def test_constructors_destructors_and_atexit():
    for form in FORMS:
        program = build("lifecycle.c", form)
        result = run(program, form)
        equal(result.returncode, 0, f"exit status ({form})")
        equal(result.stderr, "", f"stderr ({form})")
        equal(len(result.expected), 3, f"EXPECT lines ({form})")
        rows = result.rows()
        for expected in result.expected:
            matches = [r for r in rows if r["address"] == expected["address"]
                       and r["function"] == "leak"]
            equal(len(matches), 1, f"rows for {expected} ({form})")
            equal(matches[0]["size"], expected["size"], "size")
            equal(matches[0]["stack"][1]["f"], expected["frame1"], "frame 1")


def test_cxx_semantics_unchanged():
    untraced = build("cxx_semantics.cpp", "preload")
    plain = run(untraced, "none")
    equal(plain.returncode, 0, "untraced exit status")
    for form in FORMS:
        program = build("cxx_semantics.cpp", form)
        result = run(program, form)
        equal((result.returncode, result.stderr), (0, ""), f"exit status, stderr ({form})")
        equal(result.stdout, plain.stdout, f"results ({form})")


def signal_handlers_in(form):
    program = build("signals.c", form)
    result = run(program, form, timeout=60)  # a deadlock is a timeout
    equal((result.returncode, result.stderr), (0, ""), f"exit status, stderr ({form})")
    rows = result.rows()
    victim = result.stdout.split()[-1]  # the block left when the handler stopped
    equal([r for r in rows if r["size"] == 256 * 1024 and r["address"] != victim], [],
          "rows of the blocks signal handlers freed")
    equal([r for r in rows if r["function"] == "free"], [], "orphan frees")


def test_signal_handlers_that_allocate_wrap():
    signal_handlers_in("wrap")


def test_signal_handlers_that_allocate_static():
    signal_handlers_in("static")


def test_signal_handlers_that_allocate_preload():
    signal_handlers_in("preload")
