"""HostProcess.batch: many loads and stores of one process in one request.

An extension beyond API.md (docs/api.md, "Batches of loads and stores on the
host").  Each call of a HostProcess is one round trip to its worker; a run that
makes many loads and stores can send them together::

    results = p.batch([("store", addr, b"x" * 8), ("load", addr, 8)])
    # [None, b"xxxxxxxx"]: in order, each the call's value or its exception

Every call is still decided one by one, in the controller, before anything of
it is sent: its arguments are decoded (a malformed call raises before any call
runs), the program's memory boundary decides its range
(:func:`mmapsim.host.boundary.guard`), and the machine's limits hold
(``max_io_bytes`` per call, the disk's check of stores).  A call that is
refused gets its HostRefused as its result, and the next calls still run.

Only a call whose whole range is the program's, every page mapped, rides in a
request with others: such calls change no mapping, so the boundary's verdict on
each, made before the request, is the verdict it would get after the calls
before it.  A call whose range meets a page that is not the program's (a
hole, where the access faults, or where a ``MAP_GROWSDOWN`` mapping grows)
runs alone, as ``p.load``/``p.store`` would run it.

The worker runs the calls of a request in order.  It sends the answers it
holds before each call that could fault (one that touches a page no earlier
call of the batch touched the same way), so a call that kills the process
(SIGSEGV, SIGBUS) gets its ProcessKilled with the results of the calls before
it intact; the calls after it, not run, get ProcessLookupError (ESRCH).  Each
frame of answers must come within ``max_call_seconds`` of the one before
(HostTimeout and the process killed, as for one call); a frame holds at most
one call that could fault.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from mmapsim import abi
from mmapsim.errors import ProcessKilled
from mmapsim.host import limits
from mmapsim.host.boundary import HostRefused, Op, Verdict
from mmapsim.host.channel import ChannelBroken, ChannelClosed
from mmapsim.host.limits import HostTimeout
from mmapsim.host.state import MachineState, ProcRecord

#: The most calls in one request, and the most bytes that its stores carry.
MAX_CALLS: Final = 1024
MAX_STORE_BYTES: Final = 1 << 20
#: A store this large is checked against the disk every time (see ``limits.check_store``).
_CHECKED_STORE: Final = 1 << 16


@dataclass(slots=True)
class _Call:
    """One decoded call of a batch: its place in the results, and what to send."""

    index: int
    op: str  # "load" or "store"
    addr: int
    arg: int | bytes  # the size of a load, the data of a store

    @property
    def size(self) -> int:
        return self.arg if isinstance(self.arg, int) else len(self.arg)


def decode(calls: Iterable[object]) -> list[_Call]:
    """The calls, checked as ``p.load``/``p.store`` check their arguments."""
    out = []
    for index, call in enumerate(calls):
        if not isinstance(call, tuple) or len(call) != 3 or call[0] not in ("load", "store"):
            raise TypeError(
                f"call {index} of a batch is not ('load', addr, size) or "
                f"('store', addr, data): {call!r}"
            )
        op, addr, arg = call
        va = abi.address("addr", addr)
        value = abi.u64("size", arg) if op == "load" else abi.data("data", arg)
        out.append(_Call(index, op, va, value))
    return out


class BatchCalls:
    """``batch``: many loads and stores in few requests (see the module doc)."""

    pid: int
    _record: ProcRecord

    if TYPE_CHECKING:

        @property
        def _state(self) -> MachineState: ...

        def _guard(self, op: Op, addr: int, length: int, *, noreplace: bool = False) -> Verdict: ...

        def load(self, addr: int, size: int) -> bytes: ...

        def store(self, addr: int, data: bytes) -> None: ...

    def batch(self, calls: Iterable[tuple[str, int, int | bytes]]) -> list[object]:
        """Run ``calls`` (``("load", addr, size)``, ``("store", addr, data)``) in order.

        Returns one result a call: the bytes of a load, None for a store, or
        the exception the call would have raised alone (HostRefused,
        ProcessKilled, HostTimeout, ProcessLookupError once the process ended).
        """
        decoded = decode(calls)
        results: list[object] = [None] * len(decoded)
        pending: list[_Call] = []
        alive, carried = True, 0  # carried: the bytes of the pending stores
        for call in decoded:
            if not alive:
                results[call.index] = self._ended()
                continue
            try:
                alone = self._admit(call, pending)
            except HostRefused as exc:
                results[call.index] = exc
                continue
            except ProcessLookupError as exc:  # it ended before the pending calls were sent
                for waiting in pending:
                    results[waiting.index] = self._ended()
                pending.clear()
                results[call.index], alive = exc, False
                continue
            carried += 0 if alone or isinstance(call.arg, int) else len(call.arg)
            if alone or len(pending) >= MAX_CALLS or carried > MAX_STORE_BYTES:
                alive = self._flush(pending, results)
                pending.clear()
                carried = 0
            if alone:
                alive = alive and self._alone(call, results)
                if not alive and results[call.index] is None:
                    results[call.index] = self._ended()  # not run: the calls before ended it
        if alive:
            self._flush(pending, results)
        return results

    def _admit(self, call: _Call, pending: list[_Call]) -> bool:
        """Decide ``call`` (HostRefused if refused); True if it must run alone.

        Otherwise it joins ``pending``.  Before a store whose disk check
        counts, the pending calls run first, so that the check sees them.
        """
        op = Op.READ if call.op == "load" else Op.WRITE
        state = self._state
        self._guard(op, call.addr, call.size)
        start = call.addr & ~0xFFF
        end = min(1 << 64, (call.addr + call.size + 0xFFF) & ~0xFFF)
        if self._record.pages.first_gap(start, end) is not None:
            return True  # it meets a hole: alone, as p.load/p.store run it
        state.limits.check_io(call.op, call.size)
        if call.op == "store":
            if pending and (call.size >= _CHECKED_STORE or (state.stores + 1) % 256 == 0):
                return True
            limits.check_store(state, call.size)
        pending.append(call)
        return False

    def _alone(self, call: _Call, results: list[object]) -> bool:
        """Run ``call`` as p.load/p.store would; False if the process ended."""
        try:
            if isinstance(call.arg, int):
                results[call.index] = self.load(call.addr, call.arg)
            else:
                self.store(call.addr, call.arg)
        except (ProcessKilled, ProcessLookupError, HostTimeout) as exc:
            results[call.index] = exc
            return False
        except OSError as exc:  # HostRefused, or an errno of the machine
            results[call.index] = exc
        return True

    def _flush(self, pending: list[_Call], results: list[object]) -> bool:
        """Run ``pending`` in one request, each answered in turn; False if the process ended."""
        if not pending:
            return True
        state, record = self._state, self._record
        done = 0
        with state.lock:
            if state.closed or not state.poll(record):
                for call in pending:
                    results[call.index] = self._ended()
                return False
            rid = next(state.ids)
            try:
                record.chan.send((rid, "batch", ([(c.op, (c.addr, c.arg)) for c in pending],)))
                while done < len(pending):
                    state.await_reply(record.chan, pending[done].op, self.pid)
                    for ok, value in _answers(record.chan.recv_reply(rid), len(pending) - done):
                        call = pending[done]
                        results[call.index] = self._answer(call, ok, value)
                        done += 1
                return True
            except HostTimeout as exc:
                state.wait_dead(record)
                results[pending[done].index] = exc
            except (ChannelClosed, ChannelBroken) as exc:
                if isinstance(exc, ChannelBroken):  # a reply that no worker of ours would send
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.pid, signal.SIGKILL)
                state.wait_dead(record)
                results[pending[done].index] = self._death()
        for call in pending[done + 1 :]:
            results[call.index] = self._ended()
        return False

    def _answer(self, call: _Call, ok: bool, value: object) -> object:
        """The result of one answered call, checked as ``p.load``/``p.store`` check it."""
        if not ok:
            if not isinstance(value, BaseException):
                return TypeError(f"host worker answered {value!r} where an error belongs")
            return self._state.ns.contract_error(value)
        if call.op == "load" and not isinstance(value, bytes):
            return TypeError(f"host worker answered {type(value).__name__} where bytes belong")
        return value if call.op == "load" else None

    def _death(self) -> BaseException:
        """What a load or store that ended the process raises (as ``HostProcess._access``)."""
        record = self._record
        if record.term_signal is None:
            return self._ended()
        return ProcessKilled(record.term_signal, self.pid, record.fault_va)

    def _ended(self) -> ProcessLookupError:
        return ProcessLookupError(errno.ESRCH, f"process {self.pid} has ended")


def _answers(reply: tuple[bool, object], most: int) -> list[tuple[bool, object]]:
    """The answers ``(ok, value)`` of one frame of a batch (at most ``most``);
    ChannelBroken for a frame that no worker of ours would send."""
    ok, answers = reply
    if not ok or not isinstance(answers, list) or not 0 < len(answers) <= most:
        raise ChannelBroken(f"not the answers of a batch: {answers!r:.200}")
    out = []
    for answer in answers:
        if not (isinstance(answer, tuple) and len(answer) == 2):
            raise ChannelBroken(f"not the answer of a call: {answer!r:.200}")
        out.append((bool(answer[0]), answer[1]))
    return out
