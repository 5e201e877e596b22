"""Programs from Debian under the preload library: the same standard output and exit status
as without it, and well-formed traces from every process they start."""
import glob
import os
import shutil
import subprocess
import tempfile

from harness import STAGE, WORK, check, equal, read_trace

PYTHON_SCRIPT = """
import subprocess, threading
def work(n):
    table = {str(i): [i] * 3 for i in range(n)}
    return sum(len(v) for v in table.values())
threads = [threading.Thread(target=work, args=(20000,)) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
print(work(1000), subprocess.run(["echo", "child"], capture_output=True, text=True).stdout.strip())
"""


def traced_and_untraced(command, cwd=None, stdin=None):
    """Runs command untraced, then traced with %p traces in a new folder; returns the
    untraced and traced results and the traces' paths."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    plain = subprocess.run(command, cwd=cwd, input=stdin, capture_output=True, text=True,
                           env=env, timeout=120)
    directory = tempfile.mkdtemp(prefix="real.", dir=WORK)
    traced_env = dict(env, LD_PRELOAD=os.path.join(STAGE, "lib", "malloc-trace.so"),
                      out_file_path=os.path.join(directory, "trace.%p.csv"))
    traced = subprocess.run(command, cwd=cwd, input=stdin, capture_output=True, text=True,
                            env=traced_env, timeout=120)
    return plain, traced, sorted(glob.glob(os.path.join(directory, "trace.*.csv")))


def assert_same_and_well_formed(command, cwd=None, stdin=None):
    plain, traced, traces = traced_and_untraced(command, cwd, stdin)
    equal((traced.returncode, traced.stdout), (plain.returncode, plain.stdout),
          f"exit status and output of {command[0]}")
    equal(traced.stderr, plain.stderr, f"standard error of {command[0]}")
    check(traces, f"no trace from {command[0]}")
    for path in traces:
        for row in read_trace(path):  # six fields, a JSON stack, whole lines
            check(0 <= row["size"] < 1 << 32, f"{path}: implausible size {row['size']}")
    return traces


def test_python_threads_and_subprocesses():
    traces = assert_same_and_well_formed(["python3", "-c", PYTHON_SCRIPT])
    check(len(traces) >= 2, "the child process wrote its own trace")


def test_xmllint():
    document = "<r>" + "".join(f"<item n='{i}'>text {i}</item>" for i in range(2000)) + "</r>"
    assert_same_and_well_formed(["xmllint", "--format", "-"], stdin=document)


def test_jq():
    data = "[" + ",".join(f'{{"k":{i},"v":"x;{i}"}}' for i in range(5000)) + "]"
    assert_same_and_well_formed(["jq", "-c", "map(select(.k % 7 == 0)) | length"], stdin=data)


def test_sqlite3():
    script = ("create table t(x integer, y text); "
              "with recursive c(i) as (select 1 union all select i + 1 from c where i < 5000) "
              "insert into t select i, 'row ' || i from c; "
              "create index t_y on t(y); select count(*), sum(x) from t where y like 'row 1%';")
    assert_same_and_well_formed(["sqlite3", ":memory:", script])


def test_git_on_a_scratch_repository():
    repository = tempfile.mkdtemp(prefix="git.", dir=WORK)
    env_flags = ["-c", "user.email=ci@example.invalid", "-c", "user.name=ci"]
    subprocess.run(["git", "init", "-q", repository], check=True)
    for i in range(3):
        with open(os.path.join(repository, f"file{i}.txt"), "w") as text:
            text.write(f"line {i}\n" * 100)
    subprocess.run(["git", "add", "."], cwd=repository, check=True)
    subprocess.run(["git", *env_flags, "commit", "-qm", "first"], cwd=repository, check=True)
    assert_same_and_well_formed(["git", "log", "--stat", "--format=%s"], cwd=repository)
    assert_same_and_well_formed(["git", "status", "--porcelain"], cwd=repository)
    shutil.rmtree(repository)
