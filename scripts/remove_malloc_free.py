#!/usr/bin/env python3
"""remove_malloc_free.py -i IN -o OUT: writes a malloc-trace output file back without the
`malloc` rows that a later row settles and without the late `free` rows that settled them.

A `malloc` row (a block still allocated at a periodic flush) is settled by the next later
row about the same address that is a `free` (a late free: both rows go) or an exit row
(`leak`, `indirect`, `reachable`: the exit row is the verdict and stays, the `malloc` row
goes). Where processes share a file (fork without %p), several `malloc` rows may wait on one
address: each settling row takes the oldest. Every other row stays, in its order, byte for
byte; the header is kept. The file is read twice, streaming: memory grows with the `malloc`
rows not yet settled, and by one bit a line for the lines to drop. An input that cannot be
read twice (a pipe, /dev/stdin, a FIFO) is copied, as the first reading goes, to a temporary
file that has no name (nothing is left behind, however the script ends).

A line is read as `malloc-trace check` reads it: malformed lines (cut, a NUL byte, longer
than 64 MiB, a field that does not parse, a call stack that is not a non-empty JSON array of
frames with "f", "s" and "l") are named on stderr as IN:LINE: reason, with check's reasons
(a JSON syntax error in Python's words), copied unchanged, and settle nothing; an address is
a number (0x010 is 0x10). Memory grows with the distinct call stacks too, each parsed once,
as in check, and with the longest line read, up to 64 MiB.

Exit status: 0; 2 when the input cannot be read or written, does not begin with the header,
or has malformed lines."""
import argparse
import collections
import json
import math
import os
import re
import stat
import sys
import tempfile

HEADER = "function;thread_id;address;size;timestamp_ms;callstack"
EVENTS = {"malloc", "free", "leak", "indirect", "reachable"}
EXIT_EVENTS = {"leak", "indirect", "reachable"}


# check's: a line of this many bytes or more, its line end not counted, is malformed.
LINE_LIMIT = 64 << 20
# Bytes read at a time where a line is only copied.
PIECE = 1 << 20
DECIMAL = re.compile(r"[0-9]{1,20}")
ADDRESS = re.compile(r"0x[0-9a-f]{1,16}")
BELOW_2_63 = 1 << 63


def row_of(line):
    """(function, address) of a data line, or the reason check gives for rejecting it."""
    if not line.endswith("\n"):
        return None, "the line is cut (no line end)"
    text = line[:-2] if line.endswith("\r\n") else line[:-1]
    if "\0" in text:
        return None, "a NUL byte in the line"
    fields = text.split(";", 5)
    if len(fields) != 6:
        return None, "fewer than 6 fields"
    function, thread_id, address, size, timestamp, callstack = fields
    if function not in EVENTS:
        return None, "unknown event (not malloc, free, leak, indirect or reachable)"
    if not DECIMAL.fullmatch(thread_id) or int(thread_id) > 0x7FFFFFFF:
        return None, "thread_id is not a thread id"
    if not ADDRESS.fullmatch(address):
        return None, "address is not 0x and lower-case hex"
    if not DECIMAL.fullmatch(size) or int(size) >= BELOW_2_63:
        return None, "size is not a whole number below 2^63"
    if not DECIMAL.fullmatch(timestamp) or int(timestamp) >= BELOW_2_63:
        return None, "timestamp_ms is not a whole number below 2^63"
    if not callstack.startswith("["):
        return None, "callstack is not a JSON array"
    reason = stack_reason(callstack)
    if reason is not None:
        return None, f"invalid callstack JSON: {reason}"
    return (function, int(address, 16)), None


def object_without_repeated_keys(pairs):
    """check's parser (jansson) rejects an object that names a key twice."""
    if len({key for key, _ in pairs}) != len(pairs):
        raise ValueError("duplicate object key")
    return dict(pairs)


def not_a_json_number(name):
    raise ValueError(f"{name} is no JSON number")


def json_integer(text):
    """jansson's integers are 64-bit."""
    value = int(text)
    if value >= 1 << 63:
        raise ValueError("too big integer")
    if value < -(1 << 63):
        raise ValueError("too big negative integer")
    return value


def json_real(text):
    value = float(text)
    if math.isinf(value):
        raise ValueError("real number overflow")
    return value


MAX_DEPTH = 2048  # jansson's JSON_PARSER_MAX_DEPTH


def refused_value(value, depth=1):
    """Why jansson refuses what Python's parser took (None: it does not): nesting deeper than
    it parses, a string with U+0000 (\\u0000, refused without JSON_ALLOW_NUL) or a lone
    surrogate (an escape, or a byte that is not UTF-8)."""
    if depth > MAX_DEPTH:
        return "maximum parsing depth reached"
    if isinstance(value, str):
        if "\0" in value:
            return "\\u0000 is not allowed"
        if any("\ud800" <= character <= "\udfff" for character in value):
            return "invalid Unicode"
        return None
    children = (value if isinstance(value, list)
                else [*value.keys(), *value.values()] if isinstance(value, dict) else [])
    for child in children:
        reason = refused_value(child, depth + 1)
        if reason is not None:
            return reason
    return None


def frame_is_whole(frame):
    return (isinstance(frame, dict) and isinstance(frame.get("f"), str)
            and isinstance(frame.get("s"), str) and isinstance(frame.get("l"), int)
            and not isinstance(frame.get("l"), bool))


STACK_REASONS = {}


def stack_reason(callstack):
    """Why check rejects this call stack (None: it does not); each distinct one parsed once."""
    if callstack not in STACK_REASONS:
        try:
            frames = json.loads(callstack, object_pairs_hook=object_without_repeated_keys,
                                parse_constant=not_a_json_number, parse_int=json_integer,
                                parse_float=json_real)
        except RecursionError:
            reason = "maximum parsing depth reached"
        except ValueError as error:
            reason = getattr(error, "msg", str(error))
        else:
            reason = refused_value(frames)
            if reason is None and (not isinstance(frames, list) or not frames):
                reason = "callstack is not a non-empty JSON array"
            elif reason is None and not all(frame_is_whole(frame) for frame in frames):
                reason = 'callstack frame without "f", "s" and "l"'
        STACK_REASONS[callstack] = reason
    return STACK_REASONS[callstack]


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


def lines_of(stream):
    """Each line of stream (binary, read from where it stands) as text, its line end kept, or
    None for a line longer than check reads, which is read through and dropped."""
    while True:
        line = stream.readline(LINE_LIMIT)
        if not line:
            return
        if len(line) == LINE_LIMIT and not line.endswith(b"\n"):
            yield None  # first: a first line this long ends the reading (/dev/zero)
            while True:
                rest = stream.readline(PIECE)
                if not rest or rest.endswith(b"\n"):
                    break
        else:
            yield line.decode("utf-8", errors="surrogateescape")


class CopyingReader:
    """Reads stream and writes what it read to copy: one reading of an input that cannot be
    read twice, with its copy for the second."""

    def __init__(self, stream, copy):
        self.stream = stream
        self.copy = copy

    def readline(self, limit):
        data = self.stream.readline(limit)
        self.copy.write(data)
        return data


def settled_lines(stream, name):
    """Line numbers to drop, and the malformed lines (number, reason); name is the input's
    name for messages."""
    pending = collections.defaultdict(collections.deque)  # address -> unsettled malloc rows
    drop = LineSet()
    malformed = []
    lines = lines_of(stream)
    first = next(lines, "")
    if first is None:
        raise ValueError(f"{name}:1: the line is longer than {LINE_LIMIT >> 20} MiB")
    # As check reads it: without its line end, and one CR before that.
    header = first[:-1] if first.endswith("\n") else first
    if first.endswith("\n") and header.endswith("\r"):
        header = header[:-1]
    if header != HEADER:
        raise ValueError(f"{name}:1: not a malloc-trace file (no header line)")
    for number, line in enumerate(lines, start=2):
        row, reason = (None, f"the line is longer than {LINE_LIMIT >> 20} MiB") if line is None \
            else row_of(line)
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


def write_kept(stream, out, drop):
    """Copies the lines of stream (binary) to out but those numbered in drop, byte for byte,
    a piece at a time: a line longer than check reads is copied too."""
    number = 1
    while True:
        piece = stream.readline(PIECE)
        if not piece:
            return
        if number not in drop:
            out.write(piece)
        if piece.endswith(b"\n"):
            number += 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--in_file", required=True, help="trace to read")
    parser.add_argument("-o", "--out_file", required=True, help="trace to write")
    options = parser.parse_args(argv)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 3 * MAX_DEPTH))  # to parse what check does
    current = options.in_file  # what an error without a file name is about
    try:
        if os.path.exists(options.out_file) and os.path.samefile(options.in_file,
                                                                 options.out_file):
            raise ValueError(f"{options.out_file}: the output would overwrite the input")
        with open(options.in_file, "rb") as source:
            if stat.S_ISREG(os.fstat(source.fileno()).st_mode):
                drop, malformed = settled_lines(source, options.in_file)
                second = source
            else:
                second = tempfile.TemporaryFile(prefix="remove_malloc_free.")
                drop, malformed = settled_lines(CopyingReader(source, second), options.in_file)
            with second, open(options.out_file, "wb") as out:
                second.seek(0)
                current = options.out_file
                write_kept(second, out, drop)
    except (OSError, ValueError) as error:
        message = str(error) if isinstance(error, ValueError) else \
            f"{error.filename or current}: {error.strerror}"
        print(f"remove_malloc_free.py: {message}", file=sys.stderr)
        return 2
    for number, reason in malformed:
        print(f"{options.in_file}:{number}: {reason}", file=sys.stderr)
    return 2 if malformed else 0


if __name__ == "__main__":
    sys.exit(main())
