"""A server under load: memcached preloaded (dropping its privileges to nobody, as daemons
do), answering a bounded load from clients on 127.0.0.1 with a 1 s period, then stopped by
SIGTERM: no crash, no deadlock, a well-formed trace whose frames are named."""
import glob
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time

from harness import STAGE, WORK, check, equal, read_trace


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def client(port, number, errors):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            stream = connection.makefile("rwb")
            for i in range(2000):
                key = f"k{number}_{i % 400}".encode()
                value = b"v" * (i % 700 + 1)
                stream.write(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(value), value))
                stream.flush()
                check(stream.readline() == b"STORED\r\n", "set")
                stream.write(b"get %s\r\n" % key)
                stream.flush()
                check(stream.readline().startswith(b"VALUE"), "get")
                stream.read(len(value) + 2)
                check(stream.readline() == b"END\r\n", "end of get")
    except Exception as error:  # reported by the test's thread
        errors.append(repr(error))


def test_memcached_under_load_then_sigterm():
    if os.geteuid() != 0:
        return  # memcached -u needs root; CI runs as root
    directory = tempfile.mkdtemp(prefix="memcached.", dir=WORK)
    os.chmod(directory, 0o777)
    port = free_port()
    env = dict(os.environ, LD_PRELOAD=os.path.join(STAGE, "lib", "malloc-trace.so"),
               out_file_path=os.path.join(directory, "trace.%p.csv"),
               malloc_second_peremption="1")
    server = subprocess.Popen(["memcached", "-u", "nobody", "-l", "127.0.0.1", "-p", str(port),
                               "-U", "0", "-t", "2"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                check(time.monotonic() < deadline and server.poll() is None,
                      "memcached did not start")
                time.sleep(0.05)
        errors = []
        clients = [threading.Thread(target=client, args=(port, n, errors)) for n in range(4)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(timeout=60)
        equal(errors, [], "client errors")
        time.sleep(2.2)  # at least one periodic flush with blocks older than the period
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    equal(server.returncode, 0, f"memcached's exit status after SIGTERM: {err!r}")
    traces = glob.glob(os.path.join(directory, "trace.*.csv"))
    equal(len(traces), 1, "one trace")
    rows = read_trace(traces[0])
    functions = {r["function"] for r in rows}
    check("malloc" in functions, f"periodic flushes wrote suspects: {functions}")
    named = [f for r in rows for f in r["stack"][1:] if f["m"] == "/usr/bin/memcached"]
    check(named, "frames in memcached itself, after it dropped its privileges")
    unnamed = [f for r in rows for f in r["stack"][1:] if f["m"] == ""]
    equal(unnamed, [], "frames without a module")
