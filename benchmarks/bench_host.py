"""HostMachine calls per second, against a bare pickle-over-socketpair round trip.

HostMachine runs each call in a worker process on the real kernel; the call
crosses a Unix socket as a pickled message and its reply comes back the same
way.  The floor of such a call is one bare round trip: a pickled request over
a ``socketpair`` (an 8-byte length and a pickle, as the host's channel frames
them) to a Python process that unpickles it and answers with a pickled 8-byte
value.  Both are measured in this run, interleaved: ``p.load(va, 8)`` and
``p.store(va, 8 bytes)`` on a page of a HostMachine process, and the bare
round trip.  Time is wall time (two processes work in turn).

The "simulator" column is HostMachine's rate, the "kernel" column the floor's.

    python benchmarks/bench_host.py [--calls 500] [--trials 5]
"""

from __future__ import annotations

import argparse
import pickle
import socket
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from _harness import PAGE_SIZE, TRIALS, Result, interleaved, result, table, wall
from mmapsim import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from mmapsim.host import HostMachine

_LENGTH = struct.Struct("<Q")


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(n)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _send(sock: socket.socket, message: object) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_LENGTH.pack(len(payload)) + payload)


def _recv(sock: socket.socket) -> object:
    (n,) = _LENGTH.unpack(_recv_exact(sock, _LENGTH.size))
    return pickle.loads(_recv_exact(sock, n))


def echo(fd: int) -> None:
    """The floor's far end: answer every request with 8 bytes, until end of file."""
    sock = socket.socket(fileno=fd)
    try:
        while True:
            _recv(sock)
            _send(sock, b"\x00" * 8)
    except EOFError:
        return


@contextmanager
def floor() -> Iterator[Callable[[int], float]]:
    """A bare echo process: (calls -> round trips per second)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    child = subprocess.Popen(
        [sys.executable, __file__, "--echo", str(theirs.fileno())], pass_fds=[theirs.fileno()]
    )
    theirs.close()

    def per_second(calls: int) -> float:
        t0 = wall()
        for _ in range(calls):
            _send(ours, ("load", 0x7F0000000000, 8))
            _recv(ours)
        return calls / (wall() - t0)

    try:
        per_second(1)  # the first answer waits for the child's start-up
        yield per_second
    finally:
        ours.close()
        child.wait()


def run(calls: int = 500, trials: int = TRIALS) -> list[Result]:
    """p.load and p.store on HostMachine, each beside the bare round trip."""
    with HostMachine() as m, floor() as bare:
        p = m.spawn()
        va = p.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        p.store(va, b"\x01" * 8)

        def loads() -> float:
            load = p.load
            t0 = wall()
            for _ in range(calls):
                load(va, 8)
            return calls / (wall() - t0)

        def stores() -> float:
            store, data = p.store, b"\x02" * 8
            t0 = wall()
            for _ in range(calls):
                store(va, data)
            return calls / (wall() - t0)

        load_rates, load_floor = interleaved(loads, lambda: bare(calls), trials)
        store_rates, store_floor = interleaved(stores, lambda: bare(calls), trials)
    note = "kernel column: the bare pickle-over-socketpair round trip"
    return [
        result("HostMachine p.load(va, 8)", "/s", load_rates, load_floor, note=note),
        result("HostMachine p.store(va, 8 bytes)", "/s", store_rates, store_floor, note=note),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="calls timed per trial")
    parser.add_argument("--trials", type=int, default=TRIALS, help="trials per side")
    parser.add_argument("--echo", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.echo is not None:
        echo(args.echo)
        return 0
    print(table(run(args.calls, args.trials)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
