"""Function, source file and line for every frame, inlined calls expanded, as addr2line -f
-i -C names them, in every form; the fallbacks without debug information; frames of
libraries unloaded before the flush."""
import os
import re
import shutil
import subprocess
import tempfile

from harness import (FORMS, WORK, addr2line, assert_expected_rows, build, build_shared, check,
                     check_named_by_symbolize, equal, marker_line, program_frames, run)

PROGRAMS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "programs")


def row_at(rows, address, kind="leak"):
    matches = [r for r in rows if r["address"] == address and r["function"] == kind]
    equal(len(matches), 1, f"{kind} rows at {address}")
    return matches[0]


def leading_program_frames(stack, program):
    """The frames from frame 1 to main, while they are in the program. (Beyond main, in a
    static binary, is libc without debug information, where binutils takes a file name from
    the symbol table, which the trace leaves empty.)"""
    frames = []
    for frame in stack[1:]:
        if frame["m"] != program:
            break
        frames.append(frame)
        if frame["f"] == "main":
            break
    return frames


def compare_with_addr2line(source, form, optimization, args=()):
    """Runs the program unsymbolized (MALLOC_TRACE_SYMBOLS=0) for the offsets, then
    symbolized; the program's frames of each expected block are what addr2line says of
    those offsets. Returns the symbolized rows of the expected blocks."""
    program = build(source, form, optimization=optimization)
    raw = run(program, form, env={"MALLOC_TRACE_SYMBOLS": "0"}, args=args)
    named = run(program, form, args=args)
    equal((raw.returncode, named.returncode), (0, 0), "exit status")
    equal(len(raw.expected), len(named.expected), "EXPECT lines")
    rows = []
    for raw_expected, named_expected in zip(raw.expected, named.expected):
        raw_row = row_at(raw.rows(), raw_expected["address"], raw_expected["kind"])
        named_row = row_at(named.rows(), named_expected["address"], named_expected["kind"])
        offsets = [f["f"].rsplit("+", 1)[1] for f in leading_program_frames(raw_row["stack"],
                                                                          program)]
        check(offsets, f"no frame in the program for {raw_expected}")
        expected = [frame for frames in addr2line(program, offsets) for frame in frames]
        if any(f["f"] == "main" for f in expected):
            expected = expected[:[f["f"] for f in expected].index("main") + 1]
        equal(leading_program_frames(named_row["stack"], program), expected,
              f"frames of {source} {optimization} ({form})")
        rows.append(named_row)
    return program, rows


def test_frames_match_addr2line_c():
    for form in FORMS:
        for optimization in ("-O0", "-O2"):
            compare_with_addr2line("leaker.c", form, optimization, args=["0", "2", "10"])


def test_inlined_calls_are_frames_of_their_own():
    for form in FORMS:
        for optimization in ("-O0", "-O2"):
            program, rows = compare_with_addr2line("inlined.c", form, optimization)
            frames = [(f["f"], os.path.basename(f["s"]), f["l"])
                      for f in leading_program_frames(rows[0]["stack"], program)]
            expected = [(name, "inlined.c", marker_line("inlined.c", name))
                        for name in ("grab", "grab_twice", "outer_site", "main")]
            equal(frames, expected, f"frames ({form}, {optimization})")
            check(rows[0]["stack"][1]["s"].startswith("/"), "source paths are absolute here")


def test_frames_match_addr2line_cxx():
    for form in FORMS:
        program, rows = compare_with_addr2line("inlined_cxx.cpp", form, "-O2")
        equal(rows[0]["stack"][1]["f"], "main", "frame 1 of the new")
        equal(rows[0]["stack"][1]["l"], marker_line("inlined_cxx.cpp", "main_new"), "line")
        frames = leading_program_frames(rows[1]["stack"], program)
        grow = [f for f in frames if f["f"] == "geometry::Grid<long>::grow(unsigned long)"]
        equal([(os.path.basename(f["s"]), f["l"]) for f in grow],
              [("inlined_cxx.cpp", marker_line("inlined_cxx.cpp", "grow"))], "grow's frame")
        check(any(f["f"].startswith("std::vector<long, std::allocator<long> >::")
                  and f["s"].startswith("/usr/include/c++/") for f in frames),
              f"libstdc++'s inlined frames: {[f['f'] for f in frames]}")


def test_functions_defined_inside_functions():
    """A lambda, a member function of a local class and a GCC nested function: their frames
    have the DWARF's name, file and line, as addr2line gives them (their DWARF lies inside
    main's, outside its code). Until e85a857 they had the symbol table's name (`make.0` for
    the nested function) and no file nor line."""
    for form in FORMS:
        for optimization in ("-O0", "-O2"):
            for source in ("functions_inside_functions.cpp", "nested_function.c"):
                program, rows = compare_with_addr2line(source, form, optimization)
                for row in rows:
                    frame = row["stack"][1]
                    equal((os.path.basename(frame["s"]), frame["l"] > 0), (source, True),
                          f"frame 1 of {source} {optimization} ({form}): {frame}")


def test_stripped_binary_falls_back_to_module_offsets():
    program = build("leaker.c", "preload")
    stripped = os.path.join(WORK, "leaker.stripped")
    shutil.copy(program, stripped)
    subprocess.run(["strip", "-s", stripped], check=True)
    result = run(stripped, "preload", args=["0", "1", "10"])
    row = row_at(result.rows(), result.expected[0]["address"])
    frames = leading_program_frames(row["stack"], stripped)
    check(len(frames) >= 4, f"frames: {frames}")
    for frame in frames:
        check(re.fullmatch(re.escape(stripped) + r"\+0x[0-9a-f]+", frame["f"]), frame["f"])
        equal((frame["s"], frame["l"]), ("", 0), "no source without debug information")
    offsets = [f["f"].rsplit("+", 1)[1] for f in frames]
    names = [frames_of[0]["f"] for frames_of in addr2line(program, offsets)]
    equal(names[:4], ["leaf", "middle", "outer", "main"], "the offsets, in the unstripped copy")
    # Frames in libc (no debug information needed) are never an empty name.
    check(all(f["f"] for f in row["stack"]), "empty function name")


def test_debug_information_compressed_in_a_file_of_its_own():
    """A stripped program whose DWARF is in a separate file with compressed sections (as
    Debian's -dbg packages ship it), found by its .gnu_debuglink: the tracer hands libdw a
    copy with the sections inflated (debug_file.c), and its frames are the unstripped
    program's, file and line included."""
    for form in FORMS:
        program = build("leaker.c", form, optimization="-O2")
        named = run(program, form, args=["0", "1", "10"])
        expected = leading_program_frames(
            row_at(named.rows(), named.expected[0]["address"])["stack"], program)
        equal([f["f"] for f in expected][:4], ["leaf", "middle", "outer", "main"],
              f"the unstripped program's frames ({form})")
        directory = tempfile.mkdtemp(prefix="compressed.", dir=WORK)
        stripped = os.path.join(directory, "leaker")
        debug = os.path.join(directory, "leaker.debug")
        for tool in (["objcopy", "--only-keep-debug", "--compress-debug-sections=zlib",
                      program, debug],
                     ["strip", "--strip-debug", "-o", stripped, program],
                     ["objcopy", f"--add-gnu-debuglink={debug}", stripped]):
            subprocess.run(tool, check=True)
        sections = subprocess.run(["readelf", "-S", "-W", debug], capture_output=True,
                                  text=True).stdout
        check(re.search(r"\.debug_info .* C ", sections), "the debug file's .debug_info is "
              "compressed")
        result = run(stripped, form, args=["0", "1", "10"])
        frames = leading_program_frames(
            row_at(result.rows(), result.expected[0]["address"])["stack"], stripped)
        equal(frames, [dict(f, m=stripped) for f in expected],
              f"frames named from the compressed debug file ({form})")


def test_too_little_memory_left_for_libdw():
    """A program that leaves 1 MiB of its address space at exit: libdw is not asked to name
    frames, which each get MODULE+0xOFFSET, and `malloc-trace symbolize` names them later.
    Until bc619dc libdw ended the dynamic wrap form with `libdw: Cannot allocate memory` and
    status 1, and its leak row was lost."""
    message = ("malloc-trace: less than 32 MiB of memory left to read debug information: "
               "stacks not named before are written as MODULE+0xOFFSET\n")
    for form in FORMS:
        program = build("little_memory_left_at_exit.c", form)
        result = run(program, form)
        equal((result.returncode, result.stderr), (7, message), f"exit status, stderr ({form})")
        rows = result.rows()
        equal(assert_expected_rows(result, program, rows), [], f"other rows ({form})")
        equal([frame["m"] for frame in rows[0]["stack"][1:3]], [program, program],
              f"modules of the program's frames ({form})")
        check_named_by_symbolize(result, program, 77, ["leak", "main"], form)


def test_a_library_loaded_where_an_unloaded_one_was():
    """Two copies of one plugin, loaded one after the other, most often at one address: the
    second's block has the same return addresses as the first's. Until 2b9614d it took the
    first's stack, named after the first copy (frames named by the wrong module, and two
    stacks merged into one by report); a dlclose that unloads a module now retires the
    stacks through it. The preload form: in the wrap form a library's malloc is not seen."""
    first = build_shared("reloaded_plugin.c", "libreloaded_first.so")
    second = os.path.join(WORK, "libreloaded_second.so")
    shutil.copyfile(first, second)
    program = build("unloaded_plugin_host.c", "preload", extra=["-ldl"])
    result = run(program, "preload", args=[first, second, first])
    equal((result.returncode, result.stdout, result.stderr), (0, "loaded 3\n", ""),
          "exit status, stdout, stderr")
    modules = [[(frame["f"], frame["m"]) for frame in row["stack"][1:3]]
               for row in result.rows() if row["function"] == "leak" and row["size"] == 333]
    equal(sorted(modules), sorted([("plugin_allocate", plugin), ("plugin_leak", plugin)]
                                  for plugin in (first, second, first)),
          "the leaks' frames in the plugins")


def test_a_plugin_without_debug_information_loaded_again_and_again():
    """A plugin without debug information, its frames named from its symbol table, loaded and
    unloaded three times: each unload drops the plugin's module, and its symbol index (libdwfl
    hands the callback the address of the module's user data: freed as the index itself, the
    program aborted, glibc's "free(): invalid pointer")."""
    plugin = build_shared("reloaded_plugin.c", "libreloaded_plain.so", debug_information=False)
    program = build("unloaded_plugin_host.c", "preload", extra=["-ldl"])
    result = run(program, "preload", args=[plugin] * 3)
    equal((result.returncode, result.stdout, result.stderr), (0, "loaded 3\n", ""),
          "exit status, stdout, stderr")
    modules = [[(frame["f"], frame["s"], frame["m"]) for frame in row["stack"][1:3]]
               for row in result.rows() if row["function"] == "leak" and row["size"] == 333]
    equal(modules, [[("plugin_allocate", "", plugin), ("plugin_leak", "", plugin)]] * 3,
          "the leaks' frames in the plugin")


def test_a_plugin_replaced_at_its_path_while_it_unloads():
    """Two builds of a plugin, loaded at one path in turn: another thread moves the next build
    there and loads it as soon as the last is unmapped, most often at the same address, while
    the unloading thread is still in the tracer's dlclose. Each round's leak is named after the
    build that made it. In 5a5e853 and 9dc4277 a session kept across a dlclose took the new
    build for the module it knew by that path and range, and named its frames after the old
    one (19 to 35 rows of 60 in a helper's runs, and 3 runs in 3 here)."""
    first = build_shared("replaced_plugin.c", "libreplaced_first.so", ["-DNAME=first_build"])
    second = build_shared("replaced_plugin.c", "libreplaced_second.so",
                          ["-DNAME=second_build"])
    plugin = os.path.join(WORK, "libreplaced.so")
    program = build("replaced_plugin_host.c", "preload", extra=["-ldl"])
    rounds = 24
    # Every exit row, reachable ones too: a leftover copy of a pointer may keep a leak reachable.
    result = run(program, "preload", args=[plugin, first, second, str(rounds)], timeout=120,
                 env={"MALLOC_TRACE_REACHABLE": "1"})
    equal((result.returncode, result.stdout, result.stderr), (0, f"rounds {rounds}\n", ""),
          "exit status, stdout, stderr")
    names = sorted((row["size"] - 1000, row["stack"][1]["f"]) for row in result.rows()
                   if 1000 <= row["size"] < 1000 + rounds)
    equal(names, [(n, "second_build" if n % 2 else "first_build") for n in range(rounds)],
          "the build each round's leak is named after")


def test_frames_of_unloaded_libraries():
    first = build_shared("dl_plugin.c", "libplugin_first.so",
                         ["-DPLUGIN=first", "-DPLUGIN_SIZE=111"])
    second = build_shared("dl_plugin.c", "libplugin_second.so",
                          ["-DPLUGIN=second", "-DPLUGIN_SIZE=222"])
    line = marker_line("dl_plugin.c", "plugin_work")
    for form in ("wrap", "preload"):
        program = build("dl_host.c", form)
        result = run(program, form, args=[first, second])
        equal(result.returncode, 0, f"exit status ({form})")
        equal(result.stderr, "", f"stderr ({form})")
        rows = result.rows()
        for expected, size, plugin in zip(result.expected, (111, 222), (first, second)):
            row = row_at(rows, expected["address"])
            equal(row["size"], size, "size")
            names = [f["f"] for f in row["stack"][:6]]
            work = "work_in_first" if plugin == first else "work_in_second"
            equal(names, ["malloc", "allocate_for_plugin", work, "plugin_run", "run", "main"],
                  f"frames ({form})")
            equal((row["stack"][2]["m"], os.path.basename(row["stack"][2]["s"]),
                   row["stack"][2]["l"]), (plugin, "dl_plugin.c", line),
                  f"the plugin's frame ({form})")
            if form == "preload":  # a library's own malloc is out of --wrap's reach
                left = [r for r in rows if r["size"] == size + 1]
                equal(len(left), 1, "the block the plugin's destructor leaked")
                unload = left[0]["stack"][1]
                equal((unload["f"], unload["m"], unload["l"]),
                      ("unload_first" if plugin == first else "unload_second", plugin,
                       marker_line("dl_plugin.c", "plugin_unload")),
                      "a frame that ran inside dlclose")
