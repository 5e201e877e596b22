"""The real-workload series of make bench: xmllint, jq, python3 and sqlite3 on generated
inputs, each run untraced, under malloc-trace's preload library and under heaptrack, in
alternation, several runs each. Prints median wall seconds and peak RSS with their ratios
against the untraced runs of the same series, and malloc-trace's overhead against
heaptrack's. Every traced run's output must equal the untraced output, so a run that breaks
the program never passes as a fast one."""
import collections
import hashlib
import os
import re
import statistics
import subprocess

import inputs
import measure

HERE = os.path.dirname(os.path.abspath(__file__))
# Debian's interpreter, not the first python3 on PATH: that may be a pyenv shim, a shell
# script that would be traced in python's place.
PYTHON = "/usr/bin/python3"
JQ_FILTER = ('map(select(.status != "returned")) | group_by(.customer.city) '
             '| map({city: .[0].customer.city, orders: length,'
             ' express: (map(select(.express)) | length),'
             ' revenue: (map(.lines[] | .quantity * .unit_price) | add * 100 | round / 100),'
             ' sku_families: (map(.lines[].sku | split("-")[0]) | unique)})')
# What the heaptrack script itself writes on stdout around the program's output.
HEAPTRACK_HEAD = re.compile(rb"heaptrack output will be written to .*\n.*\n"
                            rb"starting application, this might take some time\.\.\.\n")
HEAPTRACK_TAIL = b"Heaptrack finished! Now run the following to investigate the data:\n"

# extra_env: added to every variant's environment; per_block: also count the peak live
# blocks (one more untraced run, under bench/live_blocks.c) and print the tracer's extra
# peak RSS per live block.
Workload = collections.namedtuple("Workload", "title command extra_env per_block")


def generate(work, quick):
    """Writes the inputs; returns the workloads."""
    xml = os.path.join(work, "catalog.xml")
    books = inputs.write_xml(xml, 3_000_000 if quick else 64_000_000)
    json_path = os.path.join(work, "orders.json")
    orders = inputs.write_json(json_path, 2_000_000 if quick else 50_000_000)
    sql = os.path.join(work, "orders.sql")
    rows = 20_000 if quick else 300_000
    inputs.write_sql(sql, rows)
    rounds, lines = (1, 5000) if quick else (8, 20000)
    megabytes = {path: os.path.getsize(path) / 1e6 for path in (xml, json_path)}
    return [
        Workload(f"xmllint: parse and re-serialize a generated {megabytes[xml]:.0f} MB XML "
                 f"({books} books)", ["xmllint", xml], {}, True),
        Workload(f"jq: filter, group_by and map a generated {megabytes[json_path]:.0f} MB "
                 f"JSON ({orders} orders)", ["jq", "-c", JQ_FILTER, json_path], {}, False),
        # PYTHONMALLOC=malloc: every object is a malloc and a free, not pymalloc's arenas.
        # A fixed hash seed: the same set and dict collisions, so the same work, every run.
        Workload(f"python3 (PYTHONMALLOC=malloc): dict, list and str work on {rounds} x "
                 f"{lines} generated log lines",
                 [PYTHON, os.path.join(HERE, "python_workload.py"), str(rounds), str(lines)],
                 {"PYTHONMALLOC": "malloc", "PYTHONHASHSEED": "0"}, False),
        Workload(f"sqlite3: {rows} inserts, two indexes, five queries (in memory)",
                 ["sqlite3", ":memory:", f".read {sql}"], {}, False),
    ]


def output_digest(path, heaptrack):
    """The SHA-256 of the program's output, less the heaptrack script's own lines."""
    with open(path, "rb") as text:
        data = text.read()
    if heaptrack:
        head = HEAPTRACK_HEAD.match(data)
        tail = data.rfind(HEAPTRACK_TAIL)
        if head and tail >= head.end():
            data = data[head.end():tail]
    return hashlib.sha256(data).hexdigest()


def variants(stage, work, extra_env):
    base, preload = measure.environments(stage, os.path.join(work, "trace.csv"), **extra_env)
    return [("untraced", [], base),
            ("malloc-trace preload", [], preload),
            ("heaptrack", ["heaptrack", "-o", os.path.join(work, "heaptrack")], base)]


def measure_variants(command, stage, work, extra_env, runs):
    """Runs the variants in alternation, each round but heaptrack on the quiet CPU of the
    moment (see measure.quiet_cpu); returns {label: (seconds, peaks)} for the variants that
    ran right every time and {label: reason} for the others (a variant that failed once is
    not run again)."""
    rows = variants(stage, work, extra_env)
    results = {label: ([], []) for label, _, _ in rows}
    failed = {}
    expected = None
    out_path = os.path.join(work, "stdout")
    for _ in range(runs):
        cpu = measure.quiet_cpu()
        for label, prefix, env in rows:
            if label in failed:
                continue
            with open(out_path, "wb") as out:
                status, _, seconds, peak = measure.run(prefix + command, env, out,
                                                       None if label == "heaptrack" else cpu)
            digest = output_digest(out_path, label == "heaptrack")
            for leftover in ("trace.csv", "heaptrack.zst", "heaptrack.gz"):
                if os.path.exists(os.path.join(work, leftover)):
                    os.unlink(os.path.join(work, leftover))
            if label == "untraced":
                if status != 0:
                    raise RuntimeError(f"{command[0]} failed untraced (exit status {status})")
                if expected and digest != expected:
                    raise RuntimeError(f"{command[0]}: the untraced output changed between "
                                       f"runs, so traced runs cannot be checked against it")
                expected = digest
            elif status != 0:
                failed[label] = f"failed (exit status {status})"
                continue
            elif digest != expected:
                failed[label] = "failed (output differs from the untraced run)"
                continue
            results[label][0].append(seconds)
            results[label][1].append(peak)
    os.unlink(out_path)
    medians = {label: (statistics.median(seconds), statistics.median(peaks))
               for label, (seconds, peaks) in results.items() if label not in failed}
    return medians, failed


def print_series(title, medians, failed, runs):
    base_seconds, base_peak = medians["untraced"]
    print(f"{title}, " + (f"median of {runs}" if runs > 1 else "one run"))
    print(f"  {'':22} {'wall s':>8} {'ratio':>7} {'peak RSS':>11} {'ratio':>7}")
    for label, (seconds, peak) in medians.items():
        print(f"  {label:22} {seconds:8.2f} {seconds / base_seconds:6.2f}x "
              f"{peak / 1024:8.1f} MB {peak / base_peak:6.2f}x")
    for label, reason in failed.items():
        print(f"  {label:22} {reason}")
    if "malloc-trace preload" in medians and "heaptrack" in medians:
        ours = medians["malloc-trace preload"][0] / base_seconds - 1
        theirs = medians["heaptrack"][0] / base_seconds - 1
        ours_rss = medians["malloc-trace preload"][1] / base_peak - 1
        theirs_rss = medians["heaptrack"][1] / base_peak - 1
        print(f"  overhead (ratio - 1), malloc-trace vs heaptrack: time {ours:.2f} vs "
              f"{theirs:.2f} ({ours / theirs:.2f} of heaptrack's), "
              f"peak RSS {ours_rss:.2f} vs {theirs_rss:.2f}")


def peak_live_blocks(command, extra_env, work):
    """The most heap blocks live at once in an untraced run, counted by bench/live_blocks.c
    preloaded."""
    library = os.path.join(work, "live_blocks.so")
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", library,
                    os.path.join(HERE, "live_blocks.c")], check=True)
    env = dict(os.environ, LD_PRELOAD=library, **extra_env)
    counted = subprocess.run(command, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, check=True)
    return int(re.findall(r"^live_blocks: peak (\d+)$", counted.stderr, re.M)[-1])


def run_workloads(stage, work, quick):
    runs = 1 if quick else 3
    for workload in generate(work, quick):
        medians, failed = measure_variants(workload.command, stage, work,
                                           workload.extra_env, runs)
        print_series(workload.title, medians, failed, runs)
        if workload.per_block and "malloc-trace preload" in medians:
            live = peak_live_blocks(workload.command, workload.extra_env, work)
            extra_kib = medians["malloc-trace preload"][1] - medians["untraced"][1]
            print(f"  malloc-trace memory per live block: {extra_kib / 1024:.1f} MB more peak "
                  f"RSS / {live} peak live blocks = {extra_kib * 1024 / live:.0f} bytes")
