#!/usr/bin/env python3
"""make bench: overhead of malloc-trace against the untraced run and against heaptrack,
measured side by side in one series (runs alternate), medians of several runs, on the micro
bench and on real programs (bench/workloads.py); the cost of a flush of 100,000 rows
sharing about 1,000 distinct stacks; and the memory held after a burst of blocks is freed."""
import argparse
import concurrent.futures
import os
import shutil
import statistics
import subprocess
import tempfile
import time

import measure
import workloads

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_measured(command, env, cpu=None):
    """Runs command (on cpu alone, unless it is None); returns (stdout, wall seconds, peak RSS
    in KiB)."""
    status, out, seconds, peak = measure.run(command, env, cpu=cpu)
    if status != 0:
        raise RuntimeError(f"{command[0]} failed")
    return out, seconds, peak


def build(stage, work):
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(stage, "lib", "pkgconfig"))

    def flags(*arguments):
        return subprocess.run(["pkg-config", *arguments, "malloctrace"], env=env, check=True,
                              capture_output=True, text=True).stdout.split()

    programs = {}
    for name in ("alloc", "flush", "leak_scan", "after_peak"):
        source = os.path.join(HERE, f"{name}.c")
        common = ["gcc", "-O2", "-g", "-fno-omit-frame-pointer", "-pthread", "-I",
                  os.path.join(stage, "include"), source]
        plain = os.path.join(work, name)
        subprocess.run(common + ["-o", plain], check=True)
        wrap = plain + ".wrap"
        subprocess.run(common + ["-o", wrap] + flags("--libs"), check=True)
        static = plain + ".static"
        subprocess.run([common[0], "-static"] + common[1:] + ["-o", static]
                       + flags("--libs", "--static"), check=True, stderr=subprocess.DEVNULL)
        programs[name] = {"plain": plain, "wrap": wrap, "static": static}
    return programs


def variants(programs, stage, work, name):
    trace = os.path.join(work, "trace.csv")
    base, preload = measure.environments(stage, trace)
    out = [("untraced", [programs[name]["plain"]], base, 1),
           ("malloc-trace preload", [programs[name]["plain"]], preload, 1),
           ("malloc-trace preload, unwind libunwind", [programs[name]["plain"]],
            dict(preload, MALLOC_TRACE_UNWIND="libunwind"), 1),
           ("malloc-trace wrap", [programs[name]["wrap"]], base, 1),
           ("malloc-trace wrap -static", [programs[name]["static"]], base, 1),
           # The program keeps frame pointers (it is built so): the opt-in walk of them.
           ("malloc-trace wrap, unwind fp", [programs[name]["wrap"]],
            dict(base, MALLOC_TRACE_UNWIND="fp"), 1)]
    if shutil.which("heaptrack"):
        out.append(("heaptrack", ["heaptrack", "-o", os.path.join(work, "heaptrack.out"),
                                  programs[name]["plain"]], base, 1))
    return out, trace


def last_number(out):
    numbers = [l for l in out.splitlines() if l.replace(".", "", 1).isdigit()]
    return float(numbers[-1]) if numbers else float("nan")


def run_alloc(command, env, cpu, copies):
    """Runs command (on cpu, unless it is None), or copies of it at once, each on a CPU of its
    own where it may be pinned; returns ns per operation and peak RSS, of the slower copy
    and the largest: a process of as many threads ends with its slowest thread."""
    if copies == 1:
        out, _, peak = run_measured(command, env, cpu)
        return last_number(out), peak
    cpus = measure.pinnable_cpus()
    with concurrent.futures.ThreadPoolExecutor(copies) as pool:
        done = list(pool.map(
            lambda i: run_measured(command, env, cpus[i % len(cpus)] if cpus else None),
            range(copies)))
    return (max(last_number(out) for out, _, _ in done),
            max(peak for _, _, peak in done))


def measure_alloc(rows, trace, threads, operations, depth, runs):
    """Runs each (label, command, env, copies) of rows in alternation, runs times (copies
    other than 1: that many processes of 1 thread at once); returns the medians of ns per
    operation and of peak RSS (KiB) by label. With one thread, each round runs on the quiet
    CPU of the moment, all but heaptrack (whose interpreter works beside the program, on the
    other CPU)."""
    ns = {label: [] for label, _, _, _ in rows}
    rss = {label: [] for label, _, _, _ in rows}
    for _ in range(runs):
        cpu = measure.quiet_cpu() if threads == 1 else None
        for label, command, env, copies in rows:
            if os.path.exists(trace):
                os.unlink(trace)
            took, peak = run_alloc(
                command + [str(threads if copies == 1 else 1), str(operations), str(depth)],
                env, None if label == "heaptrack" else cpu, copies)
            ns[label].append(took)
            rss[label].append(peak)
    return ({label: statistics.median(v) for label, v in ns.items()},
            {label: statistics.median(v) for label, v in rss.items()})


def print_alloc(title, ns, rss, bases=None):
    """bases: the untraced row each row is compared with, when not "untraced"."""
    print(title)
    print(f"  {'':46} {'ns/op':>8} {'ratio':>7} {'+ns/op':>8} {'peak RSS':>10}")
    for label in ns:
        base = ns[(bases or {}).get(label, "untraced")]
        print(f"  {label:46} {ns[label]:8.1f} {ns[label] / base:6.2f}x {ns[label] - base:8.1f} "
              f"{rss[label] / 1024:8.1f} MB")


def alloc_series(programs, stage, work, threads, operations, depth, runs):
    rows, trace = variants(programs, stage, work, "alloc")
    bases = {}
    if threads > 1:
        # The control for the per-thread cost: as many 1-thread processes at once, one on
        # each CPU, which share no table, so that both series pay alike for a slower CPU.
        apart = f", {threads} processes of 1 thread"
        own_trace = dict(rows[1][2], out_file_path=os.path.join(work, "trace.%p.csv"))
        rows += [("untraced" + apart, rows[0][1], rows[0][2], threads),
                 ("malloc-trace preload" + apart, rows[1][1], own_trace, threads)]
        bases["malloc-trace preload" + apart] = "untraced" + apart
    ns, rss = measure_alloc(rows, trace, threads, operations, depth, runs)
    print_alloc(f"alloc micro bench: {threads} thread(s), {operations} operations each, "
                f"stack depth {depth}, median of {runs}", ns, rss, bases)


def depth_series(programs, stage, work, operations, runs):
    """What MALLOC_TRACE_DEPTH costs: the preload form on a program 48 calls deep, so that
    each setting keeps all the frames it asks for."""
    trace = os.path.join(work, "trace.csv")
    base, preload = measure.environments(stage, trace)
    rows = [("untraced", [programs["alloc"]["plain"]], base, 1)] + [
        (f"malloc-trace preload, MALLOC_TRACE_DEPTH={depth}", [programs["alloc"]["plain"]],
         dict(preload, MALLOC_TRACE_DEPTH=str(depth)), 1) for depth in (8, 16, 32, 64)]
    ns, rss = measure_alloc(rows, trace, 1, operations, 48, runs)
    print_alloc(f"stack depth setting: 1 thread, {operations} operations, a stack 48 calls "
                f"deep, median of {runs}", ns, rss)


def flush_series(programs, stage, work, levels, blocks, runs):
    trace = os.path.join(work, "flush.csv")
    env = dict(os.environ, out_file_path=trace,
               LD_PRELOAD=os.path.join(stage, "lib", "malloc-trace.so"))
    seconds = []
    for _ in range(runs):
        if os.path.exists(trace):
            os.unlink(trace)
        out, _, _ = run_measured([programs["flush"]["plain"], str(levels), str(blocks)], env)
        ended = time.time()
        main_returned = int(out.split()[-1]) / 1000.0
        seconds.append(ended - main_returned)
    with open(trace) as text:
        rows = sum(1 for line in text if line.startswith("leak;"))
    print(f"exit pass (preload): {rows} leak rows from {1 << levels} distinct stacks, "
          f"each distinct frame named once: {statistics.median(seconds):.2f} s "
          f"(median of {runs}, from main's return to the process's end)")


def scan_series(programs, stage, work, blocks, runs):
    trace = os.path.join(work, "scan.csv")
    env = dict(os.environ, out_file_path=trace,
               LD_PRELOAD=os.path.join(stage, "lib", "malloc-trace.so"))
    first, scan = [], []
    for _ in range(runs):
        out, _, _ = run_measured([programs["leak_scan"]["plain"], str(blocks)], env)
        with_rows, alone, found = out.split()
        first.append(float(with_rows))
        scan.append(float(alone))
    live = blocks + 1001
    print(f"leak scan (preload): {live} live blocks, {found} unreachable: the scan "
          f"{statistics.median(scan):.0f} ms ({statistics.median(scan) * 1e6 / live:.0f} ns a "
          f"block), with its 1000 rows written {statistics.median(first):.0f} ms "
          f"(medians of {runs})")


def after_peak_series(programs, stage, work, blocks):
    """What the process holds once a burst of blocks is freed and two periodic flushes have
    passed (a period of 1 s), untraced and traced."""
    base, preload = measure.environments(stage, os.path.join(work, "after_peak.csv"),
                                         malloc_second_peremption="1")
    held = {}
    for name, env in (("untraced", base), ("malloc-trace preload", preload)):
        out, _, _ = run_measured([programs["after_peak"]["plain"], str(blocks), "3"], env)
        held[name] = [int(kib) / 1024 for kib in out.split()]
    print(f"after a peak: {blocks} blocks of 16 to 79 bytes allocated, freed, then 3 s "
          f"(two periodic flushes), RSS in MB at the peak / after the frees / after the "
          f"flushes: " + "; ".join(f"{name} {peak:.1f} / {freed:.1f} / {later:.1f}"
                                  for name, (peak, freed, later) in held.items()))


def write_trace(path, rows, stacks):
    """A deterministic trace: rows cycling through distinct stacks of 12 frames; a third
    each malloc, free and leak rows."""
    texts = []
    for i in range(stacks):
        frames = ['{"f":"malloc","s":"","l":0,"m":""}'] + [
            f'{{"f":"function_{i}_{d}","s":"/src/file_{i % 37}.c","l":{d * 7 + i % 13},'
            f'"m":"/usr/bin/app"}}' for d in range(12)]
        texts.append("[" + ",".join(frames) + "]")
    with open(path, "w") as out:
        out.write("function;thread_id;address;size;timestamp_ms;callstack\n")
        for n in range(rows):
            kind = ("malloc", "free", "leak")[n % 3]
            out.write(f"{kind};{100 + n % 8};{hex(0x100000 + 16 * (n % 300000))};{32 + n % 200};"
                      f"{1700000000000 + n};{texts[n % stacks]}\n")


def report_series(build_dir, work, rows, runs):
    trace = os.path.join(work, "big.csv")
    write_trace(trace, rows, 1000)
    command = [os.path.join(build_dir, "malloc-trace"), "report", "--top", "3", trace]
    seconds, peaks = [], []
    for _ in range(runs):
        _, elapsed, peak = run_measured(command, dict(os.environ))
        seconds.append(elapsed)
        peaks.append(peak)
    size = os.path.getsize(trace) / 1e6
    os.unlink(trace)
    print(f"malloc-trace report: {rows} rows ({size:.0f} MB, 1000 distinct stacks): "
          f"{statistics.median(seconds):.2f} s, peak RSS {statistics.median(peaks) / 1024:.1f} MB "
          f"(median of {runs})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    stage = os.path.abspath(os.path.join(options.build, "stage"))
    work = tempfile.mkdtemp(prefix="bench.", dir=options.build)
    programs = build(stage, work)
    print(f"machine: {os.cpu_count()} cores; {subprocess.run(['uname', '-srm'], capture_output=True, text=True).stdout.strip()}")
    runs = 3 if options.quick else 5
    operations = 200000 if options.quick else 1000000
    alloc_series(programs, stage, work, 1, operations, 16, runs)
    alloc_series(programs, stage, work, 2, operations, 16, runs)
    depth_series(programs, stage, work, operations // 2, 3)
    flush_series(programs, stage, work, 10, 98, 3 if options.quick else 5)
    scan_series(programs, stage, work, 100000 if options.quick else 1000000,
                3 if options.quick else 5)
    after_peak_series(programs, stage, work, 500000 if options.quick else 2000000)
    report_series(options.build, work, 200000 if options.quick else 1000000,
                  3 if options.quick else 5)
    workloads.run_workloads(stage, work, options.quick)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
