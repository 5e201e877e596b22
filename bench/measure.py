"""Runs one program for make bench and measures its wall time and peak RSS.

The peak comes from GNU time, not from our own wait4: a child that Python forks (or
vforks) starts with this process's memory map, and the kernel keeps that map's high-water
RSS as the child's ru_maxrss when it execs, so a 200 MB harness would make every program
look at least 200 MB big. time's own map is small, so the program it forks starts clean."""
import os
import subprocess
import tempfile
import time

GNU_TIME = "/usr/bin/time"


def _probe_seconds():
    """A short stretch of allocation-heavy work, timed."""
    start = time.perf_counter()
    table = {}
    for i in range(60000):
        table[str(i)] = [i]
    return time.perf_counter() - start


def pin_to(cpu):
    """Keeps this process (and what it then starts) on cpu; whether that was allowed."""
    try:
        os.sched_setaffinity(0, {cpu})
        return True
    except OSError:
        return False


def quiet_cpu():
    """The CPU, of those this process may use, that runs a short probe fastest (best of 3
    on each); None with only one. On a virtual machine one vCPU can run memory-bound work
    a third slower than the other for minutes at a time (a neighbour on its core, the
    README says more): a round of runs pinned to the quiet one compares like with like."""
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        return None
    best = {}
    for cpu in sorted(allowed):
        if not pin_to(cpu):
            best = {}  # a sandbox that refuses affinity: the rounds run unpinned
            break
        best[cpu] = min(_probe_seconds() for _ in range(3))
    try:
        os.sched_setaffinity(0, allowed)
    except OSError:
        pass
    return min(best, key=best.get) if best else None


def environments(stage, trace, **extra):
    """The environment of an untraced run (writing any trace to trace, with extra added)
    and the same with the staged malloc-trace.so preloaded."""
    base = dict(os.environ, out_file_path=trace, **extra)
    base.pop("LD_PRELOAD", None)
    return base, dict(base, LD_PRELOAD=os.path.join(stage, "lib", "malloc-trace.so"))


def run(command, env, stdout=subprocess.PIPE, cpu=None):
    """Runs command (on cpu alone, unless it is None) with its stdout to stdout (a file, or
    a pipe whose text is returned); returns (exit status, output text or None, wall seconds,
    peak RSS in KiB). The peak is the largest of the program and of the children it waited
    for, so heaptrack's is that of the traced program or of heaptrack's interpreter."""
    with tempfile.NamedTemporaryFile("r", prefix="rusage.") as rusage:
        start = time.monotonic()
        with subprocess.Popen([GNU_TIME, "-f", "%M", "-o", rusage.name, "--", *command],
                              env=env, stdout=stdout, stderr=subprocess.DEVNULL,
                              stdin=subprocess.DEVNULL, text=True,
                              preexec_fn=None if cpu is None
                              else lambda: pin_to(cpu)) as process:
            out = process.stdout.read() if process.stdout else None
        seconds = time.monotonic() - start
        # After a failure time writes a line about it first: the peak is the last line.
        peak = int(rusage.read().split()[-1])
    return process.returncode, out, seconds, peak
