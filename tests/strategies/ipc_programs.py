"""The second round's calls in random programs: System V segments, POSIX shared
memory, memfd, dup, dup2 and waitpid.

:func:`ipc_step` draws one such step for :mod:`strategies.programs`; segment ids,
file descriptors and processes are :class:`~strategies.programs.Ref` to the steps
that made them, addresses :class:`~strategies.programs.Addr` as for mmap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from hypothesis import strategies as st

from mmapsim import (
    IPC_CREAT,
    IPC_EXCL,
    IPC_PRIVATE,
    IPC_RMID,
    IPC_SET,
    IPC_STAT,
    MFD_ALLOW_SEALING,
    MFD_CLOEXEC,
    O_CREAT,
    O_EXCL,
    O_RDONLY,
    O_RDWR,
    O_TRUNC,
    PAGE_SIZE,
    SHM_EXEC,
    SHM_RDONLY,
    SHM_REMAP,
    SHM_RND,
    WNOHANG,
)

if TYPE_CHECKING:
    from strategies.programs import Step, _Ctx

PAGE: Final = PAGE_SIZE
#: The calls of this module, with their weights among all calls.
IPC_CALLS: Final = (
    ["shmget"] * 2
    + ["shmat"] * 3
    + ["shmdt", "shmctl", "memfd_create", "shm_open", "shm_unlink", "dup", "dup2", "waitpid"]
)
KEYS: Final = st.sampled_from([IPC_PRIVATE, IPC_PRIVATE, 0x4D4D, 0x4D4E, -1])
SHM_SIZES: Final = st.sampled_from([PAGE, PAGE, 2 * PAGE + 5, 1, 0, 3 * PAGE, 2**64 - 1, 1 << 46])
SHMGET_FLAGS: Final = st.sampled_from(
    [IPC_CREAT | 0o600] * 4 + [IPC_CREAT | IPC_EXCL | 0o640, 0o600, 0, 0o77773777]
)
SHMAT_FLAGS: Final = st.sampled_from(
    [0] * 6 + [SHM_RDONLY] * 2 + [SHM_RND, SHM_REMAP, SHM_RND | SHM_REMAP, SHM_EXEC]
)
SHMCTL_CMDS: Final = st.sampled_from([IPC_STAT] * 3 + [IPC_RMID] * 2 + [IPC_SET, 99, -1])
SHM_NAMES: Final = st.sampled_from(["/s0", "/s0", "/s1", "s1", "", "/a/b"])
SHM_OPEN_FLAGS: Final = st.sampled_from(
    [O_RDWR | O_CREAT] * 3 + [O_RDWR, O_RDONLY, O_RDWR | O_CREAT | O_EXCL, O_RDWR | O_TRUNC]
)
MFD_FLAGS: Final = st.sampled_from([0, 0, MFD_CLOEXEC, MFD_ALLOW_SEALING, 0x100])


def _ref_or(draw: st.DrawFn, refs: list[int], others: list[int]) -> object:
    from strategies.programs import Ref

    if refs and draw(st.integers(0, 7)) < 7:
        return Ref(draw(st.sampled_from(refs)))
    return draw(st.sampled_from(others))


def ipc_step(draw: st.DrawFn, ctx: _Ctx, proc: int, call: str) -> Step:
    """One step of ``call`` (one of IPC_CALLS) in process ``proc``."""
    from strategies.programs import Step, _addr, _fd

    if call == "shmget":
        return Step(proc, call, (draw(KEYS), draw(SHM_SIZES), draw(SHMGET_FLAGS)))
    if call == "shmat":
        addr = draw(st.one_of(st.none(), _addr(ctx, hint=True), _addr(ctx)))
        return Step(proc, call, (_ref_or(draw, ctx.shmids, [-1, 77]), addr, draw(SHMAT_FLAGS)))
    if call == "shmdt":
        return Step(proc, call, (draw(_addr(ctx)),))
    if call == "shmctl":
        return Step(proc, call, (_ref_or(draw, ctx.shmids, [-1, 77]), draw(SHMCTL_CMDS)))
    if call == "memfd_create":
        return Step(proc, call, (draw(st.sampled_from(["m", "", "x" * 250])), draw(MFD_FLAGS)))
    if call == "shm_open":
        return Step(proc, call, (draw(SHM_NAMES), draw(SHM_OPEN_FLAGS)))
    if call == "shm_unlink":
        return Step(proc, call, (draw(SHM_NAMES),))
    if call == "dup":
        return Step(proc, call, (_fd(draw, ctx),))
    if call == "dup2":
        return Step(proc, call, (_fd(draw, ctx), draw(st.sampled_from([0, 3, 5, 9, -1]))))
    pid = _ref_or(draw, ctx.procs[1:], [-1, -1, 0, 99999])
    return Step(proc, "waitpid", (pid, draw(st.sampled_from([0, WNOHANG, WNOHANG, 0x100]))))


def ipc_record(ctx: _Ctx, index: int, step: Step) -> None:
    """What the generator learns from ``step``: segments, their attaches, new fds."""
    if step.call == "shmget":
        ctx.shmids.append(index)
        size = step.args[1]
        assert isinstance(size, int)
        if 0 < size <= 64 * PAGE:
            ctx.shm_sizes[index] = -(-size // PAGE) * PAGE
    elif step.call == "shmat":
        from strategies.programs import Ref

        shmid = step.args[0]
        if isinstance(shmid, Ref) and shmid.step in ctx.shm_sizes:
            ctx.maps[index] = ctx.shm_sizes[shmid.step]
    elif step.call in ("memfd_create", "shm_open", "dup", "dup2"):
        ctx.fds.append(index)
