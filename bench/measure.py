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


def pinnable_cpus():
    """The CPUs this process may use, if it may pin itself (and so what it starts) to one of
    them; else an empty list (a sandbox that refuses affinity: runs are not pinned)."""
    allowed = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(allowed)})
        os.sched_setaffinity(0, allowed)
    except OSError:
        return []
    return sorted(allowed)


def quiet_cpu():
    """The CPU, of those this process may use, that runs a short probe fastest (best of 3
    on each); None with only one, or none to pin to. On a virtual machine one vCPU can run
    memory-bound work a third slower than the other for minutes at a time (a neighbour on
    its core, the README says more): a round of runs pinned to the quiet one compares like
    with like."""
    cpus = pinnable_cpus()
    if len(cpus) < 2:
        return None
    best = {}
    for cpu in cpus:
        os.sched_setaffinity(0, {cpu})
        best[cpu] = min(_probe_seconds() for _ in range(3))
    os.sched_setaffinity(0, set(cpus))
    return min(best, key=best.get)


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
        # taskset, not preexec_fn: the harness starts processes from several threads at once.
        pinned = [] if cpu is None else ["taskset", "-c", str(cpu)]
        with subprocess.Popen(pinned + [GNU_TIME, "-f", "%M", "-o", rusage.name, "--", *command],
                              env=env, stdout=stdout, stderr=subprocess.DEVNULL,
                              stdin=subprocess.DEVNULL, text=True) as process:
            out = process.stdout.read() if process.stdout else None
        seconds = time.monotonic() - start
        # After a failure time writes a line about it first: the peak is the last line.
        peak = int(rusage.read().split()[-1])
    return process.returncode, out, seconds, peak
