#!/usr/bin/env python3
"""remove_malloc_free.py -i IN -o OUT: writes a malloc-trace output file back without the
`malloc` rows that a later row settles and without the late `free` rows that settled them.

A `malloc` row (a block still allocated at a periodic flush) is settled by the next later
row about the same address that is a `free` (a late free: both rows go) or an exit row
(`leak`, `indirect`, `reachable`: the exit row is the verdict and stays, the `malloc` row
goes). Where processes share a file (fork without %p), several `malloc` rows may wait on one
address: each settling row takes the oldest. Every other row stays, in its order, byte for
byte; the header is kept. The file is read twice, streaming: memory grows with the `malloc`
rows not yet settled, and by one bit a line for the lines to drop.

Exit status: 0; 2 when the input cannot be read, does not begin with the header, or has
malformed lines (each named on stderr as IN:LINE: reason; they are copied unchanged)."""
import argparse
import collections
import os
import sys

HEADER = "function;thread_id;address;size;timestamp_ms;callstack"
EVENTS = {"malloc", "free", "leak", "indirect", "reachable"}
EXIT_EVENTS = {"leak", "indirect", "reachable"}


def row_of(line):
    """(function, address) of a data line, or a reason why it is malformed."""
    fields = line.rstrip("\r\n").split(";", 5)
    if len(fields) != 6:
        return None, f"{len(fields)} fields, not 6"
    function, thread_id, address, size, timestamp, _ = fields
    if function not in EVENTS:
        return None, f"unknown event {function!r}"
    if not (address.startswith("0x") and len(address) > 2
            and all(c in "0123456789abcdef" for c in address[2:])):
        return None, f"bad address {address!r}"
    if not (thread_id.isdigit() and size.isdigit() and timestamp.isdigit()):
        return None, "thread_id, size and timestamp_ms must be whole numbers"
    return (function, address), None


class LineSet:
    """Line numbers as bits: a million lines in 125 KB."""

    def __init__(self):
        self.bits = bytearray()

    def add(self, number):
        index = number >> 3
        if index >= len(self.bits):
            self.bits.extend(bytes(index + 1 - len(self.bits) + len(self.bits) // 2))
        self.bits[index] |= 1 << (number & 7)

    def __contains__(self, number):
        index = number >> 3
        return index < len(self.bits) and bool(self.bits[index] & (1 << (number & 7)))


def settled_lines(path):
    """Line numbers to drop, and the malformed lines (number, reason)."""
    pending = collections.defaultdict(collections.deque)  # address -> unsettled malloc rows
    drop = LineSet()
    malformed = []
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as trace:
        first = trace.readline()
        if first.rstrip("\r\n") != HEADER:
            raise ValueError(f"{path}:1: not a malloc-trace file (no header line)")
        for number, line in enumerate(trace, start=2):
            row, reason = row_of(line)
            if row is None:
                malformed.append((number, reason))
                continue
            function, address = row
            if function == "malloc":
                pending[address].append(number)
                continue
            waiting = pending.get(address)
            if waiting:
                drop.add(waiting.popleft())
                if function == "free":
                    drop.add(number)
                if not waiting:
                    del pending[address]
    return drop, malformed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--in_file", required=True, help="trace to read")
    parser.add_argument("-o", "--out_file", required=True, help="trace to write")
    options = parser.parse_args(argv)
    try:
        if os.path.exists(options.out_file) and os.path.samefile(options.in_file,
                                                                 options.out_file):
            raise ValueError(f"{options.out_file}: the output would overwrite the input")
        drop, malformed = settled_lines(options.in_file)
        with open(options.in_file, encoding="utf-8", errors="surrogateescape",
                  newline="") as trace, \
                open(options.out_file, "w", encoding="utf-8", errors="surrogateescape",
                     newline="\n") as out:
            for number, line in enumerate(trace, start=1):
                if number not in drop:
                    out.write(line)
    except (OSError, ValueError) as error:
        message = str(error) if isinstance(error, ValueError) else \
            f"{error.filename}: {error.strerror}"
        print(f"remove_malloc_free.py: {message}", file=sys.stderr)
        return 2
    for number, reason in malformed:
        print(f"{options.in_file}:{number}: {reason}", file=sys.stderr)
    return 2 if malformed else 0


if __name__ == "__main__":
    sys.exit(main())
