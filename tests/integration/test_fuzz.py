"""The command's trace parser under libFuzzer (tests/fuzz/): a bounded run that fails on any
finding and keeps its input, and the inputs of past findings (tests/fuzz/regressions/), fed
again to the fuzz target under the sanitizers and to the real `malloc-trace report` and
`check`, which must give a documented exit status and the right result, never a crash."""
import glob
import os
import re
import subprocess
import sys

from harness import BUILD, ROOT, STAGE, check, equal

FUZZ = os.path.join(ROOT, "tests", "fuzz")
REGRESSIONS = sorted(glob.glob(os.path.join(FUZZ, "regressions", "*")))
sys.path.insert(0, FUZZ)
import run_fuzz  # noqa: E402  (tests/fuzz/ is not a package)

# 45 s keeps make check within its budget; MT_FUZZ_SECONDS makes it longer or shorter.
SECONDS = int(os.environ.get("MT_FUZZ_SECONDS", "45"))
MAX = "9223372036854775807"  # INT64_MAX: the most bytes a trace's sizes may add up to

# The exact results of the regression inputs, for what each one found. Both now stop at the
# row whose size takes the sizes read past 2^63 - 1 (bad input, exit 2): what the rows before
# it hold is reported exactly.
EXPECTED = {
    # Three stacks whose bytes add up past 2^64: the flame graph's total wrapped to 1, the
    # boxes were drawn 10^19 times too wide, and converting that width to size_t was
    # undefined behaviour (UBSan: "outside the range of representable values").
    "flame-graph-total-wraps.csv": {
        "folded": f"a {MAX}\n",
        "svg title": f"malloc-trace: {MAX} bytes outstanding in 1 block",
        "check": f"malloc-trace check: {MAX} bytes leaked in 1 block from 1 stack",
        "rejected lines": [3, 4],
    },
    # One stack with leak, indirect and suspect malloc rows: the folded line's sum of the
    # three kinds wrapped to 3.
    "folded-stack-bytes-wrap.csv": {
        "folded": f"x {MAX}\n",
        "svg title": f"malloc-trace: {MAX} bytes outstanding in 1 block",
        "check": f"malloc-trace check: {MAX} bytes leaked in 1 block from 1 stack",
        "rejected lines": [3, 4],
    },
}


def fuzzer():
    return os.path.join(BUILD, "fuzz", "fuzz_trace")


def test_fuzz_trace_parser_bounded_run():
    status, found, log = run_fuzz.fuzz(BUILD, SECONDS,
                                       os.path.join(BUILD, "fuzz", "last-run.log"))
    tail = "\n".join(log.splitlines()[-40:])
    equal(found, [], f"inputs of findings (reproduce: {fuzzer()} INPUT; then add INPUT to "
                     f"tests/fuzz/regressions/ with the fix)\n{tail}")
    equal(status, 0, f"fuzz_trace's exit status\n{tail}")
    check("Done " in log, f"the run did not finish\n{tail}")


def test_fuzz_regressions_replayed_under_sanitizers():
    check(REGRESSIONS, "no regression inputs")
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    result = subprocess.run([fuzzer(), *REGRESSIONS], capture_output=True, text=True,
                            env=env, timeout=120, errors="replace")
    equal(result.returncode, 0, f"fuzz_trace on the regression inputs\n{result.stderr[-3000:]}")


def command(*arguments):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return subprocess.run([os.path.join(STAGE, "bin", "malloc-trace"), *arguments],
                          capture_output=True, text=True, env=env, timeout=60,
                          errors="replace")


def test_fuzz_regressions_through_the_command():
    for path in REGRESSIONS:
        name = os.path.basename(path)
        outputs = {}
        for arguments in (["report"], ["report", "--format", "json"],
                          ["report", "--format", "folded"], ["report", "--format", "svg"],
                          ["check"]):
            result = command(*arguments, path)
            what = f"{' '.join(arguments)} {name}"
            allowed = (0, 1, 2) if arguments[0] == "check" else (0, 2)
            check(result.returncode in allowed,
                  f"{what}: exit status {result.returncode}\n{result.stderr[-2000:]}")
            # Bad input is named one line each (FILE:LINE: reason), and only with exit 2.
            for line in result.stderr.splitlines():
                check(line.startswith(f"{path}:"), f"{what}: stderr line {line!r}")
            equal(result.returncode == 2, bool(result.stderr), f"{what}: exit 2 with a message")
            outputs[arguments[-1]] = result
        expected = EXPECTED.get(name)
        check(expected is not None, f"{name}: no expected result in test_fuzz.py")
        equal(outputs["folded"].stdout, expected["folded"], f"report --format folded {name}")
        check(expected["svg title"] in outputs["svg"].stdout,
              f"report --format svg {name}: {outputs['svg'].stdout[:600]}")
        widths = [float(w) for w in re.findall(r'<rect x="[^"]*" y="\d+" width="([0-9.]+)"',
                                               outputs["svg"].stdout)]
        check(widths and max(widths) <= 1200, f"report --format svg {name}: boxes {widths}")
        check(outputs["check"].stdout.startswith(expected["check"]),
              f"check {name}: {outputs['check'].stdout}")
        equal(outputs["check"].stderr,
              "".join(f"{path}:{n}: sizes add up past 2^63 - 1 bytes\n"
                      for n in expected["rejected lines"]), f"check {name}: stderr")
