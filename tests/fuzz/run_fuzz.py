#!/usr/bin/env python3
"""Runs the libFuzzer target fuzz_trace for a bounded time: `make fuzz` (10 minutes by
default, FUZZ_SECONDS=N) and tests/integration/test_fuzz.py (45 s) both call it.

The working corpus, build/fuzz/corpus, is kept between runs, so local runs build on each
other; each run first adds the seeds: the golden traces (tests/golden/*/input.csv), the
hand-made edge cases of tests/fuzz/seeds/ and every regression input. A crash, leak,
undefined behaviour, time-out or out-of-memory ends the run; libFuzzer keeps the input that
caused it under build/fuzz/artifacts/, and this script names it and exits 1."""
import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUZZ = os.path.join(ROOT, "tests", "fuzz")


def seeds():
    return sorted(glob.glob(os.path.join(ROOT, "tests", "golden", "*", "input.csv"))
                  + glob.glob(os.path.join(FUZZ, "seeds", "*"))
                  + glob.glob(os.path.join(FUZZ, "regressions", "*")))


def fuzz(build, seconds, log_path=None):
    """Returns (exit status, artifacts written by this run, the log's text)."""
    fuzzer = os.path.join(build, "fuzz", "fuzz_trace")
    corpus = os.path.join(build, "fuzz", "corpus")
    artifacts = os.path.join(build, "fuzz", "artifacts")
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(artifacts, exist_ok=True)
    for seed in seeds():
        with open(seed, "rb") as data:
            name = hashlib.sha1(data.read()).hexdigest()  # libFuzzer's own naming
        shutil.copyfile(seed, os.path.join(corpus, name))
    before = set(os.listdir(artifacts))
    command = [fuzzer, corpus, f"-max_total_time={seconds}",
               "-dict=" + os.path.join(FUZZ, "trace.dict"),
               "-artifact_prefix=" + artifacts + "/",
               "-max_len=8192",      # room for inputs several times the seeds' size
               "-timeout=25",        # an input that takes longer is a finding (a slow unit
                                     # takes 0.1 s; 25 s leaves room for a loaded machine)
               "-rss_limit_mb=2048",
               "-print_final_stats=1"]
    env = dict(os.environ, UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1",
               ASAN_OPTIONS="detect_leaks=1:abort_on_error=0")
    env.pop("LD_PRELOAD", None)
    # A generous limit over libFuzzer's own: a hung fuzzer is a failure, not a hung test run.
    completed = subprocess.run(command, capture_output=True, text=True, env=env,
                               timeout=seconds + 120, errors="replace")
    log = completed.stderr
    if log_path:
        with open(log_path, "w") as out:
            out.write(log)
    found = sorted(os.path.join(artifacts, name)
                   for name in set(os.listdir(artifacts)) - before)
    return completed.returncode, found, log


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--seconds", type=int, default=600)
    options = parser.parse_args()
    build = os.path.abspath(options.build)
    log_path = os.path.join(build, "fuzz", "last-run.log")
    status, found, log = fuzz(build, options.seconds, log_path)
    print("\n".join(l for l in log.splitlines() if l.startswith(("stat::", "Done "))))
    if status != 0 or found:
        print(f"fuzz_trace: exit status {status}; log {log_path}", file=sys.stderr)
        for path in found:
            print(f"  input kept at {path}\n  reproduce: {build}/fuzz/fuzz_trace {path}\n"
                  f"  then add it to tests/fuzz/regressions/ with the fix", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
