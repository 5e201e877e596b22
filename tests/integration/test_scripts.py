"""scripts/: remove_malloc_free.py on golden files and on a real trace, and the PostgreSQL
table with its \\copy line, loaded into a real server on a private port."""
import glob
import os
import re
import shutil
import subprocess
import tempfile

from harness import HEADER, ROOT, STAGE, WORK, build, check, equal, read_trace, run

SCRIPT = os.path.join(ROOT, "scripts", "remove_malloc_free.py")
GOLDEN = os.path.join(ROOT, "tests", "golden", "remove_malloc_free")
SQL = os.path.join(ROOT, "scripts", "create_malloc_trace_table.sql")


def remove(*arguments):
    return subprocess.run(["python3", SCRIPT, *arguments], capture_output=True, text=True,
                          timeout=60)


def test_remove_malloc_free_golden():
    out = os.path.join(WORK, "golden.out.csv")
    for flags in (["-i", "-o"], ["--in_file", "--out_file"]):
        result = remove(flags[0], os.path.join(GOLDEN, "input.csv"), flags[1], out)
        equal((result.returncode, result.stderr), (0, ""), "exit status, stderr")
        with open(out) as got, open(os.path.join(GOLDEN, "output.csv")) as expected:
            equal(got.read(), expected.read(), "output")


def test_remove_malloc_free_bad_input():
    directory = tempfile.mkdtemp(prefix="rmf.", dir=WORK)
    out = os.path.join(directory, "out.csv")
    missing = remove("-i", os.path.join(directory, "none.csv"), "-o", out)
    equal(missing.returncode, 2, "exit status for a missing file")
    check(re.fullmatch(r"remove_malloc_free.py: .*none.csv: No such file or directory\n",
                       missing.stderr), missing.stderr)
    empty = os.path.join(directory, "empty.csv")
    open(empty, "w").close()
    result = remove("-i", empty, "-o", out)
    equal((result.returncode, result.stderr),
          (2, f"remove_malloc_free.py: {empty}:1: not a malloc-trace file (no header line)\n"),
          "an empty file")
    damaged = os.path.join(directory, "damaged.csv")
    frame = '[{"f":"malloc","s":"","l":0,"m":""}]'
    with open(damaged, "w") as text:
        text.write(HEADER + f"\nmalloc;1;0x10;8;1;{frame}\nmalloc;1;0x10;8\n"
                   f"leak;x;0x10;8;1;{frame}\nleak;1;0x10;8;2;{frame}\n")
    result = remove("-i", damaged, "-o", out)
    equal(result.returncode, 2, "exit status for malformed lines")
    equal(result.stderr, f"{damaged}:3: fewer than 6 fields\n"
                         f"{damaged}:4: thread_id is not a thread id\n",
          "messages")
    with open(out) as text:
        equal(text.read(), HEADER + f"\nmalloc;1;0x10;8\nleak;x;0x10;8;1;{frame}\n"
                                    f"leak;1;0x10;8;2;{frame}\n",
              "the rest of the file is still read, malformed lines kept")


def test_remove_malloc_free_reads_lines_as_check_does():
    """Input from a pipe is read whole (it was read twice: an empty output); a cut last line,
    digits that are not ASCII, a size of 2^63 are malformed with check's reasons and settle
    nothing (a cut free settled its malloc); 0x010 is the address 0x10; a write error is
    named after the output."""
    frame = '[{"f":"malloc","s":"","l":0,"m":""}]'
    text = (f"{HEADER}\nmalloc;1;0x10;8;1;{frame}\nmalloc;1;0x20;8;1;{frame}\n"
            f"free;\u00b2;0x20;8;2;{frame}\nmalloc;1;0x30;9223372036854775808;1;{frame}\n"
            f"free;1;0x010;8;2;{frame}\nfree;1;0x20;8;3;{frame}")
    directory = tempfile.mkdtemp(prefix="rmf.", dir=WORK)
    out = os.path.join(directory, "out.csv")
    piped = subprocess.run(["python3", SCRIPT, "-i", "/dev/stdin", "-o", out], input=text,
                           capture_output=True, text=True, timeout=60)
    equal((piped.returncode, piped.stderr),
          (2, "/dev/stdin:4: thread_id is not a thread id\n"
              "/dev/stdin:5: size is not a whole number below 2^63\n"
              "/dev/stdin:7: the line is cut (no line end)\n"), "exit status, stderr")
    with open(out) as written:
        equal(written.read(), text.replace(f"malloc;1;0x10;8;1;{frame}\n", "")
              .replace(f"free;1;0x010;8;2;{frame}\n", ""), "the output")
    # Call stacks check rejects (at e7c371d the script let them through, and the leak row
    # settled the malloc row): the same reasons, where they are not a JSON syntax error.
    stacks = os.path.join(directory, "stacks.csv")
    with open(stacks, "w") as trace:
        trace.write(f"{HEADER}\nmalloc;1;0x10;8;1;{frame}\nleak;1;0x10;8;2;[{{\"f\":\"x\"}}]\n"
                    f"leak;1;0x20;8;2;[]\nleak;1;0x30;8;2;[{{\"f\":\"x\",\"s\":\"\",\"l\":true}}]\n"
                    f"leak;1;0x40;8;2;[{{\"f\":\n")
    # What jansson refuses and Python's parser takes (a 65-bit integer, an infinite real,
    # U+0000, a lone surrogate, a bare CR, which split the line at e7c371d, nesting deeper
    # than 2,048): the same lines are refused.
    jansson = os.path.join(directory, "jansson.csv")
    with open(jansson, "w", newline="") as trace:
        trace.write(f"{HEADER}\nmalloc;1;0x10;8;1;{frame}\n"
                    + "".join(f"leak;1;0x10;8;2;[{{\"f\":{value},\"s\":\"\",\"l\":{line}}}]\n"
                              for value, line in [('"x"', "99999999999999999999"),
                                                  ('"x"', "-99999999999999999999"),
                                                  ('"x"', "1e400"), ('"a\\u0000"', "1"),
                                                  ('"\\ud800"', "1"), ('"a\rb"', "1"),
                                                  ('"x"', "1")])  # the last one is whole
                    + "leak;1;0x20;8;2;[{\"f\":\"x\",\"s\":\"\",\"l\":1,\"m\":"
                    + "[" * 2100 + "]" * 2100 + "}]\n")
    cleaned = remove("-i", jansson, "-o", out)
    checked = subprocess.run([os.path.join(STAGE, "bin", "malloc-trace"), "check", jansson],
                             capture_output=True, text=True, timeout=60)
    refused = [line.split(": ")[0] for line in checked.stderr.splitlines()
               if line.startswith(jansson)]
    equal((cleaned.returncode, [line.split(": ")[0] for line in cleaned.stderr.splitlines()]),
          (2, refused), "the lines check refuses")
    equal(len(refused), 7, "lines check refuses")
    cleaned = remove("-i", stacks, "-o", out)
    checked = subprocess.run([os.path.join(STAGE, "bin", "malloc-trace"), "check", stacks],
                             capture_output=True, text=True, timeout=60)
    reasons = [line for line in checked.stderr.splitlines() if line.startswith(stacks)]
    equal((cleaned.returncode, cleaned.stderr.splitlines()[:3]), (2, reasons[:3]),
          "exit status, reasons of the first three")
    check(cleaned.stderr.splitlines()[3].startswith(f"{stacks}:6: invalid callstack JSON: "),
          f"the fourth: {cleaned.stderr}")
    with open(stacks) as given, open(out) as written:
        equal(written.read(), given.read(), "nothing settled, every line kept")
    source = os.path.join(directory, "in.csv")
    with open(source, "w") as trace:
        trace.write(f"{HEADER}\nleak;1;0x10;8;1;{frame}\n")
    full = remove("-i", source, "-o", "/dev/full")
    equal((full.returncode, full.stderr),
          (2, "remove_malloc_free.py: /dev/full: No space left on device\n"), "/dev/full")


def test_remove_malloc_free_long_lines_and_endless_input():
    """A line longer than check reads (64 MiB) is malformed and copied unchanged; a first line
    that long ends the reading at once, /dev/zero's too (at 3b41705 the script copied it to a
    temporary file until the disk was full, and one killed meanwhile stayed behind); a header
    that ends in two CRs is no header, as in check. Input that cannot be read twice leaves no
    file behind."""
    directory = tempfile.mkdtemp(prefix="rmf.", dir=WORK)
    out = os.path.join(directory, "out.csv")
    frame = '[{"f":"malloc","s":"","l":0,"m":""}]'
    long_path = os.path.join(directory, "long.csv")
    long_line = "leak;1;0x20;8;2;" + '[{"f":"' + "x" * (65 << 20) + '","s":"","l":0}]\n'
    text = f"{HEADER}\nmalloc;1;0x10;8;1;{frame}\n{long_line}leak;1;0x10;8;2;{frame}\n"
    with open(long_path, "w") as trace:
        trace.write(text)
    result = remove("-i", long_path, "-o", out)
    equal((result.returncode, result.stderr),
          (2, f"{long_path}:3: the line is longer than 64 MiB\n"), "exit status, stderr")
    with open(out) as written:
        equal(written.read() == text.replace(f"malloc;1;0x10;8;1;{frame}\n", ""), True,
              "the long line copied unchanged, the malloc row settled after it")
    os.unlink(long_path)
    scratch = os.path.join(directory, "tmp")
    os.mkdir(scratch)
    endless = subprocess.run(["python3", SCRIPT, "-i", "/dev/zero", "-o", out],
                             capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, TMPDIR=scratch))
    equal((endless.returncode, endless.stderr),
          (2, "remove_malloc_free.py: /dev/zero:1: the line is longer than 64 MiB\n"),
          "/dev/zero")
    crs = os.path.join(directory, "crs.csv")
    with open(crs, "w", newline="") as trace:
        trace.write(f"{HEADER}\r\r\nleak;1;0x10;8;2;{frame}\n")
    result = remove("-i", crs, "-o", out)
    equal((result.returncode, result.stderr),
          (2, f"remove_malloc_free.py: {crs}:1: not a malloc-trace file (no header line)\n"),
          "a header and two CRs")
    piped = subprocess.run(["python3", SCRIPT, "-i", "/dev/stdin", "-o", out],
                           input=f"{HEADER}\r\nleak;1;0x10;8;2;{frame}\r\n", capture_output=True,
                           text=True, timeout=60, env=dict(os.environ, TMPDIR=scratch))
    equal((piped.returncode, piped.stderr, os.listdir(scratch)), (0, "", []),
          "a header and one CR; nothing left in TMPDIR")


def test_remove_malloc_free_real_trace():
    program = build("periodic.c", "preload")
    result = run(program, "preload", env={"malloc_second_peremption": "1"}, args=["late"])
    equal(result.returncode, 0, "exit status")
    kept, late = result.expected[0]["address"], result.expected[1]["address"]
    out = os.path.join(WORK, "late.cleaned.csv")
    cleaned = remove("-i", result.trace_path, "-o", out)
    equal((cleaned.returncode, cleaned.stderr), (0, ""), "exit status, stderr")
    before = [(r["function"], r["address"]) for r in read_trace(result.trace_path)
              if r["address"] in (kept, late)]
    after = [(r["function"], r["address"]) for r in read_trace(out)
             if r["address"] in (kept, late)]
    equal(sorted(before), sorted([("malloc", kept), ("malloc", late), ("free", late),
                                  ("leak", kept)]), "rows before")
    equal(after, [("leak", kept)], "rows after: the pair cancels, the exit row is the verdict")


def copy_line():
    """The first line of the SQL file that mentions \\copy, without its comment marker."""
    with open(SQL) as text:
        for line in text:
            if "\\copy" in line:
                return line.lstrip("- ").rstrip("\n")
    raise AssertionError("no \\copy line in the SQL file")


class PostgreSQL:
    """A private server: its own data directory, socket directory and port, run as the
    postgres user (the server refuses root), stopped at the end."""

    def __init__(self):
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        check(binaries, "PostgreSQL is not installed (scripts/install-deps.sh installs it)")
        self.bin = binaries[-1]
        self.root = tempfile.mkdtemp(prefix="pg.", dir="/tmp")
        self.port = "54329"
        os.chmod(self.root, 0o755)
        shutil.chown(self.root, "postgres", "postgres")
        self.data = os.path.join(self.root, "data")
        self.as_postgres([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "postgres",
                          "--auth=trust", "--no-sync"])
        self.as_postgres([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l",
                          os.path.join(self.root, "log"), "-w", "-o",
                          f"-p {self.port} -k {self.root} -c listen_addresses=''", "start"])

    def as_postgres(self, command):
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True,
                       capture_output=True, timeout=120)

    def psql(self, *arguments):
        return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h",
                               self.root, "-p", self.port, "-U", "postgres", "-d", "postgres",
                               *arguments], capture_output=True, text=True, timeout=120)

    def stop(self):
        self.as_postgres([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "fast",
                          "-w", "stop"])
        shutil.rmtree(self.root, ignore_errors=True)


def test_postgresql_table_and_copy_line():
    if os.geteuid() != 0:
        return  # starting a server as another user needs root; CI runs as root
    program = build("leaker.c", "preload")
    result = run(program, "preload", args=["0", "3", "48"])
    equal(result.returncode, 0, "exit status")
    rows = read_trace(result.trace_path)
    os.chmod(result.trace_path, 0o644)
    server = PostgreSQL()
    try:
        created = server.psql("-f", SQL)
        equal((created.returncode, created.stderr), (0, ""), "creating the table")
        line = copy_line().replace("'PATH'", "'" + result.trace_path + "'")
        loaded = server.psql("-c", line)
        equal((loaded.returncode, loaded.stderr), (0, ""), f"{line}")
        count = server.psql("-c", "select count(*) from malloc_trace")
        equal(count.stdout.strip(), str(len(rows)), "rows loaded")
        query = server.psql("-c", "select callstack->1->>'f', callstack->2->>'f', "
                                  "(callstack->1->>'l')::int > 0, count(*), sum(size) "
                                  "from malloc_trace where function = 'leak' and size = 48 "
                                  "group by 1, 2, 3")
        equal(query.stdout.strip(), "leaf|middle|t|3|144", "a jsonb query")
        columns = server.psql("-c", "select string_agg(column_name, ';' order by ordinal_position)"
                                    " from information_schema.columns"
                                    " where table_name = 'malloc_trace'")
        equal(columns.stdout.strip(), HEADER, "columns named as in the header")
        kind = server.psql("-c", "select data_type from information_schema.columns"
                                 " where table_name = 'malloc_trace' and column_name = 'callstack'")
        equal(kind.stdout.strip(), "jsonb", "callstack's type")
    finally:
        server.stop()
