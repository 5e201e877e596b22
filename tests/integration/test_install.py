"""The installed tree: layout, relocation, pkg-config, the global symbols of both forms, and
set-user-ID programs (nothing traced)."""
import os
import pwd
import re
import shutil
import subprocess
import tempfile

from harness import BUILD, ROOT, WORK, assert_expected_rows, build, check, equal, run

INTERCEPTED = {"malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign", "dlclose",
               "aligned_alloc", "memalign", "valloc", "pvalloc", "malloc_usable_size",
               "setrlimit", "setrlimit64", "prlimit", "prlimit64", "chroot", "setuid",
               "seteuid", "setreuid", "setresuid", "setgid", "setegid", "setregid", "setresgid"}
OPERATORS = re.compile(r"^_Z(nw|na|dl|da)")


def global_symbols(path, dynamic):
    command = ["nm", "--defined-only", "-g"] + (["-D"] if dynamic else []) + [path]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if len(line.split()) == 3}


def test_global_symbols_carry_the_prefix():
    for path, dynamic in ((os.path.join(BUILD, "libmalloctrace.a"), False),
                          (os.path.join(BUILD, "malloc-trace.so"), True)):
        symbols = global_symbols(path, dynamic)
        check(symbols, f"no symbols in {path}")
        # DW.ref.__gcc_personality_v0: the compiler's own, weak and hidden, one per link (the
        # C operators' cleanup when the program's operator new throws).
        odd = sorted(s for s in symbols
                     if not (s.startswith(("malloc_trace_", "__wrap_")) or s in INTERCEPTED
                             or OPERATORS.match(s) or s == "DW.ref.__gcc_personality_v0"))
        equal(odd, [], f"global symbols of {os.path.basename(path)} without the prefix")
    exported = global_symbols(os.path.join(BUILD, "malloc-trace.so"), True)
    equal(sorted(s for s in exported if s.startswith("malloc_trace_")),
          ["malloc_trace_check_leaks", "malloc_trace_disable", "malloc_trace_enable",
           "malloc_trace_ignore"],
          "API of the preload library")


def test_a_program_with_a_json_object_of_its_own():
    """The tracer's names call nothing of the program's: until 2b9614d both dynamic forms
    rendered each frame with jansson, whose json_object the lookup found in the program
    first (PostgreSQL's SQL function: it crashed at exit, and could not be traced), and a
    static link failed on the two definitions."""
    for form in ("wrap", "static", "preload"):
        program = build("defines_json_object.c", form, extra=["-rdynamic"])
        result = run(program, form, timeout=30)
        equal((result.returncode, result.stdout, result.stderr), (0, "done\n", ""), form)
        leaks = [[frame["f"] for frame in row["stack"][:2]] for row in result.rows()
                 if row["function"] == "leak" and row["size"] == 4321]
        equal(leaks, [["malloc", "main"]], f"{form}: the leak's row")


def test_install_layout_and_relocation():
    root = tempfile.mkdtemp(prefix="install.", dir=WORK)
    first = os.path.join(root, "first")
    subprocess.run(["make", "-s", "-C", ROOT, "install", f"PREFIX={first}", "DESTDIR=",
                    f"BUILD={BUILD}"], check=True, capture_output=True)
    installed = sorted(os.path.relpath(os.path.join(d, f), first)
                       for d, _, files in os.walk(first) for f in files)
    equal(installed, ["bin/malloc-trace", "include/malloctrace.h", "lib/libmalloctrace.a", "lib/malloc-trace.so",
                      "lib/pkgconfig/malloctrace.pc",
                      "share/malloc-trace/create_malloc_trace_table.sql",
                      "share/malloc-trace/remove_malloc_free.py"], "installed files")
    moved = os.path.join(root, "moved")
    shutil.move(first, moved)
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(moved, "lib", "pkgconfig"))

    def flags(*arguments):
        return subprocess.run(["pkg-config", *arguments, "malloctrace"], env=env, check=True,
                              capture_output=True, text=True).stdout.split()

    preload = subprocess.run(["pkg-config", "--variable=preload", "malloctrace"], env=env,
                             check=True, capture_output=True, text=True).stdout.strip()
    equal(os.path.realpath(preload), os.path.join(moved, "lib", "malloc-trace.so"),
          "preload variable")
    source = os.path.join(ROOT, "tests", "programs", "leaker.c")
    for static in (False, True):
        program = os.path.join(root, "leaker.static" if static else "leaker.wrap")
        command = ["gcc"] + (["-static"] if static else []) + ["-O0", "-g", source, "-o",
                                                                 program]
        command += flags("--cflags", "--libs", *(["--static"] if static else []))
        subprocess.run(command, check=True, capture_output=True)
        result = run(program, "static" if static else "wrap", args=["0", "2", "64"])
        equal(result.returncode, 0, "exit status")
        assert_expected_rows(result, program)
    plain = build("leaker.c", "preload")
    result = run(plain, "none", args=["0", "1", "64"], env={"LD_PRELOAD": preload})
    assert_expected_rows(result, plain)
    # The command finds the preload library relative to itself, in the moved tree.
    trace = os.path.join(root, "run.csv")
    completed = subprocess.run([os.path.join(moved, "bin", "malloc-trace"), "run", "-o", trace,
                                "--", plain, "0", "1", "64"], capture_output=True, text=True,
                               timeout=60)
    equal(completed.returncode, 0, "exit status of the moved command")
    check("leak: 64 bytes in 1 block" in completed.stderr, completed.stderr)


def test_set_user_id_program_is_not_traced():
    if os.geteuid() != 0:
        return  # making a set-user-ID program for another user needs root; CI runs as root
    program = build("leaker.c", "static")
    directory = tempfile.mkdtemp(prefix="setuid.", dir="/tmp")
    os.chmod(directory, 0o777)
    copy = os.path.join(directory, "leaker")
    shutil.copy(program, copy)
    os.chmod(copy, 0o4755)  # owned by root, run by nobody: AT_SECURE
    trace = os.path.join(directory, "trace.csv")
    nobody = pwd.getpwnam("nobody").pw_name
    completed = subprocess.run(["runuser", "-u", nobody, "--", "env", f"out_file_path={trace}",
                                "malloc_second_peremption=garbage", copy, "4", "2", "10"],
                               capture_output=True, text=True, timeout=30)
    equal(completed.returncode, 4, "exit status")
    equal(completed.stderr, "", "stderr: settings are not even read")
    equal(completed.stdout.count("EXPECT"), 2, "the program ran")
    equal(os.listdir(directory), ["leaker"], "files written")
    shutil.rmtree(directory)
