#!/usr/bin/env python3
"""Runs every test of malloc-trace: the unit test programs, then the integration tests
(tests/integration/test_*.py), each with a time limit, and ends with `N passed, N failed`."""
import argparse
import glob
import importlib
import os
import subprocess
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--stage", default=None)
    parser.add_argument("-k", dest="pattern", default="", help="run only tests whose name has this")
    options = parser.parse_args()
    build = os.path.abspath(options.build)
    os.environ["MT_BUILD"] = build
    os.environ["MT_STAGE"] = os.path.abspath(options.stage or os.path.join(build, "stage"))
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

    passed, failed = 0, []

    def report(name, error, seconds):
        nonlocal passed
        if error is None:
            passed += 1
            print(f"PASS {name} ({seconds:.1f} s)", flush=True)
        else:
            failed.append(name)
            print(f"FAIL {name} ({seconds:.1f} s)\n    " + error.replace("\n", "\n    "),
                  flush=True)

    for unit in sorted(glob.glob(os.path.join(build, "tests", "unit", "test_*"))):
        name = "unit/" + os.path.basename(unit)
        if options.pattern not in name:
            continue
        start = time.monotonic()
        # The unit programs link the core, whose constructor opens the trace file: keep it
        # in the build tree.
        env = dict(os.environ, out_file_path=os.path.join(build, "tests", "unit.trace.csv"))
        env.pop("LD_PRELOAD", None)
        try:
            result = subprocess.run([unit], capture_output=True, text=True, timeout=120,
                                    env=env)
            error = None if result.returncode == 0 else (
                f"exit status {result.returncode}\n{result.stdout}{result.stderr}")
        except subprocess.TimeoutExpired:
            error = "timed out after 120 s"
        report(name, error, time.monotonic() - start)

    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "integration", "test_*.py"))):
        module = importlib.import_module(os.path.splitext(os.path.basename(path))[0])
        for test_name in [n for n in vars(module) if n.startswith("test_")]:
            name = f"{module.__name__}.{test_name}"
            if options.pattern not in name:
                continue
            start = time.monotonic()
            try:
                getattr(module, test_name)()
                error = None
            except subprocess.TimeoutExpired as timeout:
                error = f"timed out: {timeout}"
            except Exception:  # a test's failure is reported, and the run goes on
                error = traceback.format_exc(limit=4)
            report(name, error, time.monotonic() - start)

    if failed:
        print("failed: " + " ".join(failed))
    print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
