"""Every intercepted entry point, in every form: the exact rows of known programs."""
import collections
import os
import subprocess

from harness import (FORMS, PROGRAMS, STAGE, assert_expected_rows, build, build_shared, check,
                     equal, pkg_config, run)

LOADER = "/lib64/ld-linux-x86-64.so.2"  # starts a program itself: no AT_BASE


def events_in(form, env=None):
    program = build("events.c", form)
    result = run(program, form, env=env)
    equal(result.returncode, 0, "exit status")
    equal(result.stderr, "", "stderr")
    check(len(result.expected) == 20, f"the program printed {len(result.expected)} EXPECT lines")
    others = assert_expected_rows(result, program)
    # Blocks libc allocates before the tracer starts (a static binary's startup) have no
    # frame but frame 0; nothing else may be left.
    strays = [r for r in others if len(r["stack"]) > 1]
    equal([(r["function"], r["stack"][:3]) for r in strays], [], "unexpected rows")


def test_c_events_wrap():
    events_in("wrap")


def test_c_events_static():
    events_in("static")


def test_c_events_preload():
    events_in("preload")


def test_c_events_static_pie():
    """A static PIE links libdw.a's dlopen in: the tracer must not load libunwind.so into it
    with a second C library (it crashed at start)."""
    events_in("static-pie")


def test_fortified_string_functions():
    """Built as Debian builds (-O2 -D_FORTIFY_SOURCE=2), a program calls __getdelim for
    getline and getdelim, and __asprintf_chk and __vasprintf_chk for asprintf and vasprintf:
    until 2b9614d the dynamic wrap form saw none of them, wrote orphan frees for their
    blocks and no leak (check passed a leaking program)."""
    for form in ("wrap", "static"):
        program = build("fortified_strings.c", form, extra=["-D_FORTIFY_SOURCE=2"],
                        optimization="-O2")
        result = run(program, form)
        equal((result.returncode, result.stderr), (0, ""), f"exit status, stderr ({form})")
        equal(len(result.expected), 4, f"EXPECT lines ({form})")
        others = assert_expected_rows(result, program)
        equal([r for r in others if r["function"] == "free"], [], f"orphan frees ({form})")
        # Above frame 0, the inlined functions of glibc's fortified headers (stdio2.h,
        # stdio.h), then the caller; getdelim's is called, not inlined.
        addresses = {e["address"]: e["frame0"] for e in result.expected}
        callers = {row["stack"][0]["f"]: [frame["f"] for frame in row["stack"][1:3]]
                   for row in result.rows() if row["address"] in addresses}
        equal(callers, {"asprintf": ["asprintf", "printed"], "vasprintf": ["vasprintf", "format"],
                        "getline": ["getline", "lines"], "getdelim": ["lines", "main"]},
              f"the frames above frame 0 ({form})")


def run_with_operators(user, operators, form, stdout, env=None):
    """Builds tests/programs/USER with the program's own operators (OPERATORS, another
    object: the wrap forms' --wrap reaches them only from there) and runs it; asserts its
    exit status 0, its stdout and an empty stderr."""
    extra = [os.path.join(PROGRAMS, operators)] + (
        pkg_config("--variable=static_cxx") if form == "static" else [])
    program = build(user, form, extra=extra)
    result = run(program, form, env=env)
    equal((result.returncode, result.stdout, result.stderr), (0, stdout, ""),
          f"exit status, stdout, stderr ({form})")
    result.program = program
    return result


def test_program_that_replaces_only_plain_new_and_delete():
    """The program defines operator new and delete (plain and aligned) with a header in
    front of each block, and none of the others, which libstdc++ makes call these: new[]
    and every sized, nothrow or array delete. The preload form's own versions of those freed
    the address new handed out, not malloc's block: the program crashed (at e7c371d). The
    program's count of live objects is as untraced, and only its two leaks are
    reported, as blocks of malloc and posix_memalign inside its operators."""
    for form in FORMS:
        result = run_with_operators("scalar_operators_user.cpp", "scalar_operators.cpp", form,
                                    "live objects 2\n")
        rows = sorted((row["function"], row["size"],
                       [frame["f"] for frame in row["stack"]
                        if not frame["f"].startswith("operator new[]")][:4])
                      for row in result.rows())
        equal(rows, [("leak", 64, ["malloc", "operator new(unsigned long)", "leak_array()",
                                   "main"]),
                     ("leak", 264, ["posix_memalign",
                                    "operator new(unsigned long, std::align_val_t)",
                                    "leak_aligned_array()", "main"])], f"rows ({form})")


def test_libraries_that_replace_the_operators():
    """Two libraries define operators with a header in front of each block (the plain and
    aligned ones; new[], delete[] and a counting sized delete), and hand out blocks of their
    new and new[] from inside; the program calls the operators too. In the preload form, ours
    came first and bypassed the libraries' (their counts were 0), and with
    -Bsymbolic-functions a sized delete of a library's block went to glibc's free, which
    aborted (at 44bcd36). Only the leaks are reported, as malloc's blocks inside the
    libraries' operators."""
    for symbolic in (False, True):
        suffix, flags = ("_symbolic", ["-Wl,-Bsymbolic-functions"]) if symbolic else ("", [])
        libraries = [build_shared(f"{name}.cpp", f"lib{name}{suffix}.so", flags)
                     for name in ("scalar_operators", "array_operators")]
        for form in ("wrap", "preload"):
            program = build("library_operators_user.cpp", form,
                            extra=libraries + ["-Wl,-rpath," + os.path.dirname(libraries[0])],
                            variant=suffix.strip("_"))
            result = run(program, form)
            what = f"{form}, {'with' if symbolic else 'without'} -Bsymbolic-functions"
            equal((result.returncode, result.stdout, result.stderr),
                  (0, "live objects 1, live arrays 1, sized deletes 200\n", ""),
                  f"exit status, stdout, stderr ({what})")
            rows = collections.Counter(
                (row["function"], row["size"], tuple(frame["f"] for frame in row["stack"][:3]))
                for row in result.rows())
            if form == "preload":
                expected = {("leak", 64, ("malloc", "operator new(unsigned long)",
                                          "leak_one()")): 1,
                            ("leak", 56, ("malloc", "operator new[](unsigned long)",
                                          "leak_array()")): 1}
            else:
                # The wrap form sees none of the libraries' own calls (README): their
                # operators' blocks are recorded as libstdc++'s would be, and the blocks they
                # handed out from inside are orphan frees.
                expected = {("leak", 48, ("operator new(unsigned long)", "leak_one()",
                                          "main")): 1,
                            ("leak", 40, ("operator new[](unsigned long)", "leak_array()",
                                          "main")): 1,
                            ("free", 0, ("operator delete(void*)", "main",
                                         "__libc_start_call_main")): 100,
                            ("free", 0, ("operator delete(void*, unsigned long)", "main",
                                         "__libc_start_call_main")): 100,
                            ("free", 0, ("operator delete[](void*, unsigned long)", "main",
                                         "__libc_start_call_main")): 100}
            equal(dict(rows), expected, f"rows ({what})")


def test_librarys_nothrow_new_from_a_pool():
    """A library's nothrow operator new hands out slots of a pool of its own: the blocks are
    none of malloc's, and 5 kept to the end are no leak (the preload form wrote 5 leak rows
    after bfc11fa). The dynamic wrap form sees none of the library's calls and records what
    its operators return (README): the 5 are leaks there."""
    library = build_shared("pool_nothrow_new.cpp", "libpool_nothrow_new.so")
    for form in ("wrap", "preload"):
        program = build("pool_nothrow_new_user.cpp", form,
                        extra=[library, "-Wl,-rpath," + os.path.dirname(library)])
        result = run(program, form)
        equal((result.returncode, result.stdout, result.stderr), (0, "slots used 5\n", ""),
              f"exit status, stdout, stderr ({form})")
        rows = [(row["function"], row["size"], row["stack"][0]["f"]) for row in result.rows()]
        expected = {"preload": [],
                    "wrap": [("leak", 32, "operator new(unsigned long, std::nothrow_t const&)")]
                    * 5}
        equal(rows, expected[form], f"rows ({form})")


def test_program_linked_with_another_allocator():
    """A C++ program linked with jemalloc or tcmalloc, whose operators take blocks from the
    library without a call of malloc the tracer sees: the library's operators are not the
    program's, and the preload form's serve it (taken for the program's, a delete aborted
    in glibc's free: at 44bcd36 for a nothrow new, after bfc11fa for every delete).
    malloc_usable_size works on malloc's block (at 44bcd36 jemalloc's crashed on glibc's).
    Its new[] does not reach the program's own new; a nothrow new whose new-handler throws
    bad_alloc returns NULL. Only the leak is reported."""
    for allocator in ("libjemalloc.so.2", "libtcmalloc_minimal.so.4"):
        library = os.path.join("/usr/lib/x86_64-linux-gnu", allocator)
        # tcmalloc calls the program's operator new for itself as it starts: the untraced
        # run says how many news the program counts.
        variant = allocator.split(".")[0]
        untraced = subprocess.run(
            [build("another_allocator.cpp", "preload", extra=[library], variant=variant)],
            capture_output=True, text=True, check=True).stdout
        equal(untraced.split(", ", 1)[1], "usable yes, huge null\n",
              f"untraced run ({allocator})")
        for form in ("wrap", "preload"):
            program = build("another_allocator.cpp", form, extra=[library], variant=variant)
            result = run(program, form)
            equal((result.returncode, result.stdout, result.stderr), (0, untraced, ""),
                  f"exit status, stdout, stderr ({allocator}, {form})")
            rows = [(row["function"], row["size"], [frame["f"] for frame in row["stack"]][:3])
                    for row in result.rows()
                    if "main" in [frame["f"] for frame in row["stack"]]]
            equal(rows, [("leak", 400, ["operator new[](unsigned long)", "leak_array()",
                                        "main"])], f"rows ({allocator}, {form})")


def test_blocks_come_from_the_programs_allocator():
    """A C program linked with jemalloc asks jemalloc's own API about the blocks malloc,
    realloc, calloc and posix_memalign gave it. The preload form took them from glibc
    (__libc_malloc), and jemalloc's sallocx crashed on them (exit status -11 at 7378abd): they
    now come from the allocator an untraced call reaches. The output is the untraced run's,
    and the leak is the only row."""
    library = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
    untraced = subprocess.run([build("allocator_api.c", "preload", extra=[library])],
                              capture_output=True, text=True, check=True).stdout
    equal(untraced, "malloc yes, realloc yes, calloc yes, posix_memalign yes\n",
          "untraced run")
    for form in ("wrap", "preload"):
        result = run(build("allocator_api.c", form, extra=[library]), form)
        equal((result.returncode, result.stdout, result.stderr), (0, untraced, ""),
              f"exit status, stdout, stderr ({form})")
        rows = [(row["function"], row["size"], [frame["f"] for frame in row["stack"]][:3])
                for row in result.rows()]
        equal(rows, [("leak", 48, ["malloc", "leak_block", "main"])], f"rows ({form})")


def test_programs_delete_that_frees_later():
    """The program's operator delete keeps the blocks and frees them later; libstdc++'s sized
    and array deletes call it. The tracer took each block out at the delete (all forms, the
    preload form since 1c7f9d4): each later free was an orphan free row. So it did in the
    dynamic forms for a program started as `ld.so PROGRAM` (which has no AT_BASE), until
    7cc77d1 for the preload form and after it for the wrap form."""
    for form in FORMS:
        result = run_with_operators("deferred_delete_user.cpp", "deferred_delete.cpp", form,
                                    "released\n")
        equal([(row["function"], row["size"]) for row in result.rows()
               if len(row["stack"]) > 1], [], f"rows ({form})")
        if form != "static":
            result = run(LOADER, form, args=[result.program])
            equal((result.returncode, result.stdout, result.stderr), (0, "released\n", ""),
                  f"exit status, stdout, stderr ({form}, started by the loader)")
            equal([(row["function"], row["size"]) for row in result.rows()
                   if len(row["stack"]) > 1], [], f"rows ({form}, started by the loader)")


def test_programs_operators_in_a_signal_handler():
    for form in FORMS:
        extra = pkg_config("--variable=static_cxx") if form == "static" else []
        program = build("operators_in_a_signal_handler.cpp", form, extra=extra)
        result = run(program, form)
        equal((result.returncode, result.stdout, result.stderr),
              (0, "live 0, handled yes\n", ""), f"exit status, stdout, stderr ({form})")
        equal([(row["function"], row["size"]) for row in result.rows()
               if row["function"] in ("free", "leak", "indirect")], [], f"rows ({form})")


def test_first_delete_in_a_thread_a_library_constructor_waits_for():
    """A library's constructor, inside dlopen, joins a thread whose sized delete, delete[]
    and new[] are the process's first: the preload form looked up where they lead then
    (dlsym, which waits for the loader's lock dlopen holds) and hung (at 1c7f9d4). So did a
    failing new's look-up of the new-handler (at 44bcd36), now made as the tracer starts
    when libstdc++ is loaded then: the second run preloads it. (A C program that gets
    libstdc++ only with such a library still looks it up at the failure.)"""
    library = build_shared("library_joining_a_deleting_thread.cpp",
                           "libjoining_a_deleting_thread.so")
    program = build("dlopen_one.c", "preload")
    preload = os.path.join(STAGE, "lib", "malloc-trace.so")
    for env in ({}, {"LD_PRELOAD": preload + ":libstdc++.so.6", "FAILING_NEW": "1"}):
        result = run(program, "preload", args=[library], timeout=20, env=env)
        equal((result.returncode, result.stdout, result.stderr), (0, "loaded\n", ""),
              f"exit status, stdout, stderr ({env})")


def test_late_deletes_name_the_operator():
    for form in FORMS:
        extra = pkg_config("--variable=static_cxx") if form == "static" else []
        program = build("late_delete.cpp", form, extra=extra)
        result = run(program, form, env={"malloc_second_peremption": "1"})
        equal((result.returncode, result.stdout, result.stderr), (0, "deleted\n", ""),
              f"exit status, stdout, stderr ({form})")
        rows = sorted((row["function"], row["size"], [f["f"] for f in row["stack"][:2]])
                      for row in result.rows() if "main" in [f["f"] for f in row["stack"][:2]])
        equal(rows, [("free", 8, ["operator delete(void*, unsigned long)", "main"]),
                     ("free", 12, ["operator delete[](void*)", "main"]),
                     ("malloc", 8, ["operator new(unsigned long)", "main"]),
                     ("malloc", 12, ["operator new[](unsigned long)", "main"])],
              f"rows ({form})")


def test_first_dlerror_finds_no_error_of_the_tracers():
    """The static form's look-ups at start left an error for the program's first dlerror()
    and two orphan free rows (at 53fa33f)."""
    for form in FORMS:
        program = build("dlerror_first.c", form)
        result = run(program, form)
        equal((result.returncode, result.stdout, result.stderr),
              (0, "dlerror: none\ndlopen: loaded\n", ""), f"exit status, stdout, stderr ({form})")
        equal([row for row in result.rows() if row["function"] == "free"], [],
              f"free rows ({form})")


def test_wrap_form_program_started_with_the_preload_library():
    """A program linked with libmalloctrace.a, started with malloc-trace.so preloaded too (as
    `malloc-trace run` starts any program): the preload tracer stands down, and the rows are
    the wrap form's, once. Both traced it at e7c371d: each block twice, the wrap tracer's
    own memory as leaks."""
    events_in("wrap", env={"LD_PRELOAD": os.path.join(STAGE, "lib", "malloc-trace.so")})


def cxx_events_in(form):
    program = build("cxx_events.cpp", form)
    result = run(program, form)
    equal(result.returncode, 0, "exit status")
    equal(result.stderr, "", "stderr")
    equal(len(result.expected), 4, "EXPECT lines")
    others = assert_expected_rows(result, program)
    # Left: blocks of libc's startup (no frame but frame 0) and libstdc++'s emergency
    # exception pool, allocated by its constructor.
    strays = [r for r in others if len(r["stack"]) > 1 and r["size"] != 72704]
    equal([(r["function"], r["stack"][:3]) for r in strays], [], "unexpected rows")


def test_cxx_events_wrap():
    cxx_events_in("wrap")


def test_cxx_events_static():
    cxx_events_in("static")


def test_cxx_events_preload():
    cxx_events_in("preload")


def test_cxx_allocations_inside_libstdcxx():
    """A C++ program that calls no operator new itself links in the -static wrap form with
    the static_cxx flags, and the allocation libstdc++ makes for it is traced (the dynamic
    wrap form does not see it)."""
    for form in ("static", "preload"):
        extra = pkg_config("--variable=static_cxx") if form == "static" else []
        program = build("cxx_library_new.cpp", form, extra=extra)
        result = run(program, form)
        equal(result.returncode, 0, f"exit status ({form})")
        assert_expected_rows(result, program)


def test_programs_own_operator_new_with_a_header():
    """The program's own global operator new takes each block from malloc and hands out an
    address 16 bytes in, then takes a tracking node from malloc; its delete frees both. Only
    malloc's blocks are traced, as in the preload form, with no frame of the tracer's wrapper
    in their stacks: the wrap forms recorded the address new handed out as a second block,
    and wrote malloc's as a leak. After a std::bad_alloc out of that operator, the next block
    leaked is a leak (the throw left the thread's state holding its address)."""
    for form in FORMS:
        result = run_with_operators("own_operator_new_user.cpp", "own_operator_new.cpp", form,
                                    "live bytes 4\n")
        rows = sorted((row["function"], row["size"], [frame["f"] for frame in row["stack"][:4]])
                      for row in result.rows())
        equal(rows, [("leak", 20, ["malloc", "operator new(unsigned long)", "leak_one()",
                                   "main"]),
                     ("leak", 33, ["malloc", "leak_after_a_throw()", "main",
                                   "__libc_start_call_main"])], f"rows ({form})")
