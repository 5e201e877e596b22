#!/usr/bin/env python3
"""make bench: overhead of malloc-trace against the untraced run and against heaptrack,
measured side by side in one series (runs alternate), medians of several runs, on the micro
bench and on real programs (bench/workloads.py); and the cost of a flush of 100,000 rows
sharing about 1,000 distinct stacks."""
import argparse
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


def run_measured(command, env):
    """Runs command; returns (stdout, wall seconds, peak RSS in KiB)."""
    status, out, seconds, peak = measure.run(command, env)
    if status != 0:
        raise RuntimeError(f"{command[0]} failed")
    return out, seconds, peak


def build(stage, work):
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(stage, "lib", "pkgconfig"))

    def flags(*arguments):
        return subprocess.run(["pkg-config", *arguments, "malloctrace"], env=env, check=True,
                              capture_output=True, text=True).stdout.split()

    programs = {}
    for name in ("alloc", "flush", "leak_scan"):
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
    out = [("untraced", [programs[name]["plain"]], base),
           ("malloc-trace preload", [programs[name]["plain"]], preload),
           ("malloc-trace preload, unwind libunwind", [programs[name]["plain"]],
            dict(preload, MALLOC_TRACE_UNWIND="libunwind")),
           ("malloc-trace wrap", [programs[name]["wrap"]], base),
           ("malloc-trace wrap -static", [programs[name]["static"]], base),
           # The program keeps frame pointers (it is built so): the opt-in walk of them.
           ("malloc-trace wrap, unwind fp", [programs[name]["wrap"]],
            dict(base, MALLOC_TRACE_UNWIND="fp"))]
    if shutil.which("heaptrack"):
        out.append(("heaptrack", ["heaptrack", "-o", os.path.join(work, "heaptrack.out"),
                                  programs[name]["plain"]], base))
    return out, trace


def measure_alloc(rows, trace, threads, operations, depth, runs):
    """Runs each (label, command, env) of rows in alternation, runs times; returns the
    medians of ns per operation and of peak RSS (KiB) by label."""
    ns = {label: [] for label, _, _ in rows}
    rss = {label: [] for label, _, _ in rows}
    for _ in range(runs):
        for label, command, env in rows:
            if os.path.exists(trace):
                os.unlink(trace)
            out, _, peak = run_measured(
                command + [str(threads), str(operations), str(depth)], env)
            numbers = [l for l in out.splitlines() if l.replace(".", "", 1).isdigit()]
            ns[label].append(float(numbers[-1]) if numbers else float("nan"))
            rss[label].append(peak)
    return ({label: statistics.median(v) for label, v in ns.items()},
            {label: statistics.median(v) for label, v in rss.items()})


def print_alloc(title, ns, rss):
    base = ns["untraced"]
    print(title)
    print(f"  {'':38} {'ns/op':>8} {'ratio':>7} {'+ns/op':>8} {'peak RSS':>10}")
    for label in ns:
        print(f"  {label:38} {ns[label]:8.1f} {ns[label] / base:6.2f}x {ns[label] - base:8.1f} "
              f"{rss[label] / 1024:8.1f} MB")


def alloc_series(programs, stage, work, threads, operations, depth, runs):
    rows, trace = variants(programs, stage, work, "alloc")
    ns, rss = measure_alloc(rows, trace, threads, operations, depth, runs)
    print_alloc(f"alloc micro bench: {threads} thread(s), {operations} operations each, "
                f"stack depth {depth}, median of {runs}", ns, rss)


def depth_series(programs, stage, work, operations, runs):
    """What MALLOC_TRACE_DEPTH costs: the preload form on a program 48 calls deep, so that
    each setting keeps all the frames it asks for."""
    trace = os.path.join(work, "trace.csv")
    base, preload = measure.environments(stage, trace)
    rows = [("untraced", [programs["alloc"]["plain"]], base)] + [
        (f"malloc-trace preload, MALLOC_TRACE_DEPTH={depth}", [programs["alloc"]["plain"]],
         dict(preload, MALLOC_TRACE_DEPTH=str(depth))) for depth in (8, 16, 32, 64)]
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
    report_series(options.build, work, 200000 if options.quick else 1000000,
                  3 if options.quick else 5)
    workloads.run_workloads(stage, work, options.quick)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
