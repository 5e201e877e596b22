#!/bin/sh
# leak-gate.sh: an example CI step. Builds a test program, runs it under malloc-trace, and
# fails the job when it leaks (exit 23, LeakSanitizer's status), printing where.
#
#   examples/ci/leak-gate.sh SOURCE.c [ARGS...]
#
# malloc-trace must be on PATH (make install PREFIX=...; export PATH=$PREFIX/bin:$PATH).
# In a GitHub Actions, GitLab CI or Jenkins job, this is a single step:
#
#   - run: examples/ci/leak-gate.sh tests/smoke.c
#
# For a test suite, trace each test binary the same way, or gate a trace you already have:
#   malloc-trace check trace.csv --suppressions lsan.supp --junit leaks.xml
set -eu
source=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -g -O1 "$source" -o "$work/program"
status=0
malloc-trace run -o "$work/trace.csv" --fail-on-leak -- "$work/program" "$@" || status=$?
if [ -n "${JUNIT:-}" ] && [ -f "$work/trace.csv" ]; then
    # The JUnit report is written on every run, so that a CI report step always finds it.
    malloc-trace check "$work/trace.csv" --junit "$JUNIT" >/dev/null || true
fi
if [ "$status" -eq 23 ]; then
    echo "leak-gate: $source leaks (see the report above)" >&2
fi
exit "$status"
