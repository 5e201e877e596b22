"""Builds the test programs in each form against the staged install, runs them traced and
reads the trace back. Used by the test_*.py files of this folder."""
import glob
import json
import os
import re
import subprocess
import tempfile

HEADER = "function;thread_id;address;size;timestamp_ms;callstack"
FORMS = ("wrap", "static", "preload")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROGRAMS = os.path.join(ROOT, "tests", "programs")

BUILD = os.environ.get("MT_BUILD", os.path.join(ROOT, "build"))
STAGE = os.environ.get("MT_STAGE", os.path.join(BUILD, "stage"))
WORK = os.path.join(BUILD, "tests", "integration")
os.makedirs(WORK, exist_ok=True)


class Failure(AssertionError):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def equal(actual, expected, what):
    if actual != expected:
        raise Failure(f"{what}: expected {expected!r}, got {actual!r}")


def pkg_config(*arguments):
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(STAGE, "lib", "pkgconfig"))
    out = subprocess.run(["pkg-config", *arguments, "malloctrace"], env=env, check=True,
                         capture_output=True, text=True).stdout
    return out.split()


def build(source, form, extra=(), optimization="-O0", variant=""):
    """Builds tests/programs/SOURCE for a form; returns the executable's path (cached, by
    VARIANT too where EXTRA differs between builds of one source and form)."""
    name, extension = os.path.splitext(source)
    level = "" if optimization == "-O0" else optimization.replace("-", ".")
    variant = f".{variant}" if variant else ""
    output = os.path.join(WORK, f"{name}{level}{variant}.{form}")
    source_path = os.path.join(PROGRAMS, source)
    # The program's headers (common.h, stress.h) count too: an edited header rebuilds.
    inputs = [source_path, os.path.join(STAGE, "lib", "libmalloctrace.a"),
              *glob.glob(os.path.join(PROGRAMS, "*.h")),
              *(e for e in extra if os.path.isfile(e))]  # a second source among the flags
    if os.path.exists(output) and os.path.getmtime(output) > max(map(os.path.getmtime, inputs)):
        return output
    compiler = "g++" if extension == ".cpp" else "gcc"
    command = [compiler, optimization, "-g", "-pthread", source_path, "-o", output, *extra]
    if form == "wrap":
        command += pkg_config("--cflags", "--libs")
    elif form == "static":
        command = command[:1] + ["-static"] + command[1:] + pkg_config("--cflags", "--libs",
                                                                       "--static")
    elif form == "static-pie":
        # The README's recipe: libunwind.a is not position independent, so it is left out.
        flags = pkg_config("--cflags", "--libs", "--static")
        command = command[:1] + ["-static-pie"] + command[1:] + [
            flag for flag in flags if flag != "-Wl,-u,malloc_trace_libunwind_backtrace"]
    else:
        command += ["-I", os.path.join(STAGE, "include")]
    result = subprocess.run(command, capture_output=True, text=True)
    # libdw.a always warns about dlopen in static links (TRAPS.md): anything else fails.
    errors = [l for l in result.stderr.splitlines()
              if "dlopen" not in l and "debuginfod" not in l and l.strip()]
    check(result.returncode == 0, f"build of {source} ({form}) failed:\n" + "\n".join(errors))
    return output


class Run:
    def __init__(self, completed, trace_path):
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.trace_path = trace_path
        self.expected = [parse_expect(l) for l in self.stdout.splitlines()
                         if l.startswith("EXPECT ")]

    def rows(self, path=None):
        return read_trace(path or self.trace_path)


def run(program, form, env=None, args=(), trace=None, timeout=60, cwd=None, preexec=None):
    """Runs a built program in its form (\"none\": untraced) with the tracer's settings;
    preexec: called in the child before the program starts (to set a limit, say)."""
    if trace is None:
        trace = tempfile.mktemp(prefix="trace.", suffix=".csv", dir=WORK)
    full_env = dict(os.environ)
    full_env.pop("LD_PRELOAD", None)
    full_env["out_file_path"] = trace
    full_env["EVENTS_FORM"] = form
    if form == "preload":
        full_env["LD_PRELOAD"] = os.path.join(STAGE, "lib", "malloc-trace.so")
    full_env.update(env or {})
    completed = subprocess.run([program, *args], env=full_env, capture_output=True, text=True,
                               timeout=timeout, cwd=cwd, preexec_fn=preexec)
    return Run(completed, trace)


def parse_expect(line):
    _, kind, address, size, thread_id, frames = line.split(" ", 5)
    frame0, frame1 = frames.split("|")
    return {"kind": kind, "address": address, "size": int(size), "thread_id": int(thread_id),
            "frame0": frame0, "frame1": frame1}


def read_trace(path):
    """Every row of a trace as a dict; asserts the header and the shape of each line."""
    with open(path, encoding="utf-8") as trace:
        text = trace.read()
    check(text.endswith("\n") or text == "", f"{path}: last line is cut")
    lines = text.splitlines()
    check(lines and lines[0] == HEADER, f"{path}: first line is not the header: {lines[:1]}")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split(";", 5)
        check(len(fields) == 6, f"{path}:{number}: not six fields: {line[:120]}")
        function, thread_id, address, size, timestamp, callstack = fields
        check(function in ("malloc", "free", "leak", "indirect", "reachable"),
              f"{path}:{number}: bad event {function}")
        check(address.startswith("0x") and address == address.lower(),
              f"{path}:{number}: bad address {address}")
        stack = json.loads(callstack)
        check(isinstance(stack, list) and stack, f"{path}:{number}: empty callstack")
        for frame in stack:
            equal(sorted(frame), ["f", "l", "m", "s"], f"{path}:{number}: frame keys")
        rows.append({"function": function, "thread_id": int(thread_id), "address": address,
                     "size": int(size), "timestamp_ms": int(timestamp), "stack": stack})
    return rows


def program_frames(row, program):
    """The names of the frames of row that lie in the program's own executable."""
    return [frame["f"] for frame in row["stack"][1:] if frame["m"] == program]


def assert_expected_rows(run_result, program, rows=None):
    """Each EXPECT line of the program has exactly one row with its kind, address, size,
    thread and frame 0; frame 1 is the expected caller (with a leading ~: the first frame in
    the program is; "*": any). No other row comes from the program's main (constructors of libraries
    linked statically may leave blocks). Returns the other rows."""
    rows = run_result.rows() if rows is None else rows
    remaining = list(rows)
    for expected in run_result.expected:
        matches = [r for r in remaining
                   if r["function"] == expected["kind"] and r["address"] == expected["address"]]
        equal(len(matches), 1, f"rows for {expected}")
        row = matches[0]
        remaining.remove(row)
        if expected["size"] != -1:
            equal(row["size"], expected["size"], f"size of {expected['address']}")
        equal(row["thread_id"], expected["thread_id"], f"thread of {expected['address']}")
        if expected["frame0"] != "*":
            equal(row["stack"][0], {"f": expected["frame0"], "s": "", "l": 0, "m": ""},
                  f"frame 0 of {expected['address']}")
        if expected["frame1"] == "*":
            pass
        elif expected["frame1"].startswith("~"):
            equal(program_frames(row, program)[:1], [expected["frame1"][1:]],
                  f"first program frame of {expected['address']}")
        else:
            equal(row["stack"][1]["f"], expected["frame1"], f"frame 1 of {expected['address']}")
            equal(row["stack"][1]["m"], program, f"module of frame 1 of {expected['address']}")
    strays = [r for r in remaining if "main" in program_frames(r, program)]
    equal(strays, [], "rows from the program's main that it did not expect")
    return remaining


def build_shared(source, output_name, defines=(), debug_information=True):
    """Builds tests/programs/SOURCE as a shared library named output_name in WORK."""
    output = os.path.join(WORK, output_name)
    compiler = "g++" if source.endswith(".cpp") else "gcc"
    subprocess.run([compiler, "-O0", *(["-g"] if debug_information else []), "-pthread",
                    "-fPIC", "-shared", *defines,
                    os.path.join(PROGRAMS, source), "-o", output], check=True)
    return output


def marker_line(source, name):
    """The line of tests/programs/SOURCE that carries the marker AT(name)."""
    with open(os.path.join(PROGRAMS, source)) as text:
        for number, line in enumerate(text, start=1):
            if f"AT({name})" in line:
                return number
    raise Failure(f"no marker AT({name}) in {source}")


def addr2line(module, offsets):
    """addr2line -f -i -C for each offset: a list (one per offset) of {f, s, l, m} frames,
    innermost first, as the trace writes them."""
    result = []
    for offset in offsets:
        out = subprocess.run(["addr2line", "-f", "-i", "-C", "-e", module, offset],
                             capture_output=True, text=True, check=True).stdout.splitlines()
        frames = []
        for function, location in zip(out[::2], out[1::2]):
            location = location.split(" (discriminator")[0]
            file, _, line = location.rpartition(":")
            frames.append({"f": function, "s": "" if file == "??" else file,
                           "l": int(line) if line.isdigit() else 0, "m": module})
        result.append(frames)
    return result


def check_module_offset_frames(frames, what):
    """Frames written without libdw: each MODULE+0xOFFSET, its module an absolute path."""
    for frame in frames:
        check(frame["m"].startswith("/") and frame["s"] == "" and frame["l"] == 0
              and re.fullmatch(re.escape(frame["m"]) + r"\+0x[0-9a-f]+", frame["f"]),
              f"{what}: a frame not MODULE+0xOFFSET: {frame}")


def check_named_by_symbolize(result, program, size, names, what):
    """The row of the block of that size has its frames above frame 0 as MODULE+0xOFFSET,
    and once `malloc-trace symbolize` has read the trace, its first frames in the program are
    names."""
    row = [r for r in result.rows() if r["size"] == size][0]
    check(len(row["stack"]) >= 3, f"frames ({what}): {row['stack']}")
    check_module_offset_frames(row["stack"][1:], what)
    named = [r for r in symbolized_rows(result.trace_path) if r["size"] == size][0]
    equal(program_frames(named, program)[:len(names)], names,
          f"the frames symbolize names ({what})")


def symbolized_rows(path):
    """The rows of the trace at path once `malloc-trace symbolize` has named its frames."""
    out = path + ".symbolized"
    env = {name: value for name, value in os.environ.items() if name != "LD_PRELOAD"}
    result = subprocess.run([os.path.join(STAGE, "bin", "malloc-trace"), "symbolize", path,
                             "-o", out], capture_output=True, text=True, timeout=120, env=env)
    equal((result.returncode, result.stderr), (0, ""), f"symbolize {path}")
    return read_trace(out)
