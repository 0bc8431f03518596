"""The calls a scenario can make, by their C names, with C's parameter types.

Each call has the parameters of its C prototype.  Arguments are converted as a C
compiler converts them: an address or a length is an unsigned 64-bit value
(``-1`` becomes ``SIZE_MAX``), an ``int`` wraps to 32 bits, an ``off_t`` to a
signed 64-bit value.  Buffers are Python's: ``read`` returns the bytes it read and
``write`` takes the bytes to write, as Python's ``os.read``/``os.write`` do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class CType(Enum):
    """How an argument is converted before the call."""

    PTR = "void *"
    SIZE = "size_t"
    INT = "int"
    MODE = "mode_t"
    OFF = "off_t"
    PATH = "const char *"
    DATA = "const void *"


class Returns(Enum):
    """What a call gives back, and what it gives back when it fails."""

    INT = "int"  # a count, an fd or 0; -1 on failure
    ADDR = "void *"  # an address; MAP_FAILED on failure
    BYTES = "bytes"  # the bytes read; -1 on failure
    PAIR = "int[2]"  # pipe's two fds
    STAT = "struct stat"  # fstat's answer
    SHMID_DS = "struct shmid_ds"  # shmctl(IPC_STAT)'s answer
    NONE = "void"  # never fails as a call (helpers)


@dataclass(frozen=True, slots=True)
class CallSpec:
    """One call: its C prototype and where it runs."""

    name: str
    params: tuple[tuple[str, CType], ...]
    returns: Returns
    optional: int = 0  # how many trailing parameters may be left out
    in_process: bool = True  # False for helpers that ask the machine, not a process
    summary: str = ""

    @property
    def min_args(self) -> int:
        return len(self.params) - self.optional

    @property
    def max_args(self) -> int:
        return len(self.params)

    def prototype(self) -> str:
        """The call as C declares it: ``munmap(void *addr, size_t length)``."""
        args = ", ".join(
            f"{ctype.value}{name}" if ctype.value.endswith("*") else f"{ctype.value} {name}"
            for name, ctype in self.params
        )
        return f"{self.name}({args})"


def _spec(name: str, params: str, returns: Returns, summary: str, *, optional: int = 0) -> CallSpec:
    types = {
        "addr": CType.PTR,
        "dest": CType.PTR,
        "src": CType.PTR,
        "length": CType.SIZE,
        "n": CType.SIZE,
        "mode": CType.MODE,
        "offset": CType.OFF,
        "path": CType.PATH,
        "data": CType.DATA,
        "old_address": CType.PTR,
        "new_address": CType.PTR,
        "old_size": CType.SIZE,
        "new_size": CType.SIZE,
        "field": CType.PATH,
    }
    # "length:off" gives a parameter a type of its own (ftruncate's length is an off_t)
    named = [p.partition(":") for p in params.split()]
    parsed = tuple(
        (p, CType.OFF if kind == "off" else types.get(p, CType.INT)) for p, _, kind in named
    )
    return CallSpec(name, parsed, returns, optional, True, summary)


CALLS: dict[str, CallSpec] = {
    spec.name: spec
    for spec in (
        _spec("open", "path flags mode", Returns.INT, "open a file", optional=1),
        _spec("close", "fd", Returns.INT, "close a file descriptor"),
        _spec("read", "fd n", Returns.BYTES, "read n bytes at the file offset"),
        _spec("write", "fd data", Returns.INT, "write bytes at the file offset"),
        _spec("pread", "fd n offset", Returns.BYTES, "read n bytes at offset"),
        _spec("pwrite", "fd data offset", Returns.INT, "write bytes at offset"),
        _spec("lseek", "fd offset whence", Returns.INT, "move the file offset"),
        _spec("ftruncate", "fd length:off", Returns.INT, "set a file's size"),
        _spec("fsync", "fd", Returns.INT, "write a file's dirty pages to disk"),
        _spec("unlink", "path", Returns.INT, "remove a file's name"),
        _spec("chmod", "path mode", Returns.INT, "change a file's permission bits"),
        _spec("pipe", "", Returns.PAIR, "a pipe: (read fd, write fd)"),
        _spec("fstat", "fd", Returns.STAT, "a file's status (.st_size, ...)"),
        _spec("mmap", "addr length prot flags fd offset", Returns.ADDR, "map pages"),
        _spec("munmap", "addr length", Returns.INT, "unmap pages"),
        _spec("msync", "addr length flags", Returns.INT, "write mapped pages back"),
        _spec("mprotect", "addr length prot", Returns.INT, "change page protections"),
        # mremap, madvise, mincore and the locking calls
        _spec(
            "mremap",
            "old_address old_size new_size flags new_address",
            Returns.ADDR,
            "grow, shrink or move a mapping",
            optional=2,
        ),
        _spec("madvise", "addr length advice", Returns.INT, "advise the kernel about pages"),
        _spec("mincore", "addr length", Returns.BYTES, "one byte per page: 1 if resident"),
        _spec("mlock", "addr length", Returns.INT, "lock pages in memory (made present)"),
        _spec("mlock2", "addr length flags", Returns.INT, "mlock, MLOCK_ONFAULT: as they fault"),
        _spec("munlock", "addr length", Returns.INT, "unlock pages"),
        _spec("mlockall", "flags", Returns.INT, "lock every mapping (MCL_CURRENT, MCL_FUTURE)"),
        _spec("munlockall", "", Returns.INT, "unlock every mapping"),
        _spec("execve", "path", Returns.INT, "run a new program in this process"),
        _spec("exit", "status", Returns.INT, "end this process", optional=1),
        _spec("_exit", "status", Returns.INT, "end this process", optional=1),
        _spec("memcpy", "dest src n", Returns.ADDR, "copy n bytes in memory (loads, stores)"),
        _spec("memset", "dest c n", Returns.ADDR, "fill n bytes with c (stores)"),
        _spec("frame", "addr", Returns.INT, "the frame number mapped at addr (-1: none)"),
        _spec("start", "path", Returns.ADDR, "the lowest address mapping path ([heap], a file)"),
        _spec("perms", "addr", Returns.BYTES, 'the permissions of the mapping at addr ("rw-p")'),
        _spec("smaps", "addr field", Returns.INT, 'a counter of smaps at addr, in kB ("Rss")'),
        CallSpec("file", (("path", CType.PATH),), Returns.NONE, 0, False, "a file's bytes now"),
        CallSpec(
            "disk",
            (("path", CType.PATH),),
            Returns.NONE,
            0,
            False,
            "a file's bytes on its disk (what survives a crash)",
        ),
        CallSpec("len", (("value", CType.DATA),), Returns.NONE, 0, False, "length of bytes"),
        CallSpec("program", (), Returns.NONE, 0, False, "a tiny static program, for execve"),
    )
}


def _ipc_spec(
    name: str, params: str, returns: Returns, summary: str, *, optional: int = 0
) -> CallSpec:
    """A call of the second round: ``params`` are ``name:ctype`` (C's prototype)."""
    ctypes = {"int": CType.INT, "ptr": CType.PTR, "size": CType.SIZE, "str": CType.PATH}
    parsed = tuple((p.split(":")[0], ctypes[p.split(":")[1]]) for p in params.split())
    return CallSpec(name, parsed, returns, optional, True, summary)


# System V and POSIX shared memory, memfd, dup, waitpid, and the wait-status macros.
CALLS.update(
    (spec.name, spec)
    for spec in (
        _ipc_spec("shmget", "key:int size:size shmflg:int", Returns.INT, "a System V segment"),
        _ipc_spec("shmat", "shmid:int shmaddr:ptr shmflg:int", Returns.ADDR, "attach a segment"),
        _ipc_spec("shmdt", "shmaddr:ptr", Returns.INT, "detach a segment"),
        _ipc_spec(
            "shmctl",
            "shmid:int cmd:int mode:int",
            Returns.SHMID_DS,
            "IPC_STAT (its fields), IPC_SET (a mode), IPC_RMID",
            optional=1,
        ),
        _ipc_spec("shm_open", "name:str oflag:int mode:int", Returns.INT, "POSIX shm", optional=1),
        _ipc_spec("shm_unlink", "name:str", Returns.INT, "remove a POSIX shm name"),
        _ipc_spec(
            "memfd_create", "name:str flags:int", Returns.INT, "an anonymous file", optional=1
        ),
        _ipc_spec("dup", "oldfd:int", Returns.INT, "another fd for the same open file"),
        _ipc_spec("dup2", "oldfd:int newfd:int", Returns.INT, "make newfd share oldfd's file"),
        _ipc_spec(
            "waitpid",
            "pid:int options:int",
            Returns.PAIR,
            "(pid, status) of an ended child",
            optional=1,
        ),
    )
)
CALLS.update(
    (name, CallSpec(name, (("status", CType.INT),), Returns.NONE, 0, False, "a wait status"))
    for name in ("WIFEXITED", "WEXITSTATUS", "WIFSIGNALED", "WTERMSIG")
)

#: Calls that are statements of their own and never appear inside an expression.
FORK = "fork"

#: Names that scenario statements use as keywords.
KEYWORDS = (
    "expect",
    "show",
    "file",
    "fails",
    "kills",
    "sync",
    "crash",
    "ask",
    "among",
    "sleep",
    "recover",
)

#: What ``show`` can show.
SHOW_KINDS = ("maps", "smaps", "pages", "layout", "frame", "file", "cache", "vars")

#: Typed views of memory: ``p.int[0]`` is a C int at ``p``.
VIEWS: dict[str, tuple[int, bool]] = {
    "char": (1, True),
    "int": (4, True),
    "long": (8, True),
    "u8": (1, False),
    "u32": (4, False),
    "u64": (8, False),
}

#: Fields of fstat's answer (and of shmctl IPC_STAT's) that a scenario can read.
STAT_FIELDS = (
    "st_size",
    "st_mode",
    "st_mtime_ns",
    "st_ctime_ns",
    "shm_perm_key",
    "shm_perm_mode",
    "shm_segsz",
    "shm_nattch",
    "shm_cpid",
    "shm_lpid",
)

#: Names that stand for C values besides the constants: NULL and MAP_FAILED.
NULL = "NULL"
