"""The calls a scenario can make, by their C names, with C's parameter types.

Each system call has the parameters of its C prototype, from
:data:`mmapsim.abi.PROTOTYPES`; this module adds only what the language needs:
what each call returns, a summary, which trailing parameters may be left out,
and the helpers (``memcpy``, ``file``, ``len``, ...).  Arguments are converted as a C
compiler converts them: an address or a length is an unsigned 64-bit value
(``-1`` becomes ``SIZE_MAX``), an ``int`` wraps to 32 bits, an ``off_t`` to a
signed 64-bit value.  Buffers are Python's: ``read`` returns the bytes it read and
``write`` takes the bytes to write, as Python's ``os.read``/``os.write`` do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from mmapsim import abi
from mmapsim.abi import DATA, INT, PATH, PTR, SIZE, CType
from mmapsim.scenario.lang.ipc_values import SHM_FIELDS


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
            f"{ctype.spelling}{name}"
            if ctype.spelling.endswith("*")
            else f"{ctype.spelling} {name}"
            for name, ctype in self.params
        )
        return f"{self.name}({args})"


def _syscall(
    name: str, returns: Returns, summary: str, *, optional: int = 0, c_name: str | None = None
) -> CallSpec:
    """A system call with the parameters of its C prototype (``abi.PROTOTYPES``)."""
    return CallSpec(c_name or name, abi.PROTOTYPES[name], returns, optional, True, summary)


def _helper(name: str, params: str, returns: Returns, summary: str) -> CallSpec:
    """A helper of the language that runs in a process: ``params`` are ``name:type``."""
    ctypes = {"ptr": PTR, "size": SIZE, "int": INT, "str": PATH}
    parsed = tuple((p.split(":")[0], ctypes[p.split(":")[1]]) for p in params.split())
    return CallSpec(name, parsed, returns, 0, True, summary)


def _machine_helper(name: str, params: tuple[tuple[str, CType], ...], summary: str) -> CallSpec:
    """A helper that asks the machine, not a process."""
    return CallSpec(name, params, Returns.NONE, 0, False, summary)


CALLS: dict[str, CallSpec] = {
    spec.name: spec
    for spec in (
        _syscall("open", Returns.INT, "open a file", optional=1),
        _syscall("close", Returns.INT, "close a file descriptor"),
        _syscall("read", Returns.BYTES, "read n bytes at the file offset"),
        _syscall("write", Returns.INT, "write bytes at the file offset"),
        _syscall("pread", Returns.BYTES, "read n bytes at offset"),
        _syscall("pwrite", Returns.INT, "write bytes at offset"),
        _syscall("lseek", Returns.INT, "move the file offset"),
        _syscall("ftruncate", Returns.INT, "set a file's size"),
        _syscall("fsync", Returns.INT, "write a file's dirty pages to disk"),
        _syscall("unlink", Returns.INT, "remove a file's name"),
        _syscall("chmod", Returns.INT, "change a file's permission bits"),
        _syscall("pipe", Returns.PAIR, "a pipe: (read fd, write fd)"),
        _syscall("fstat", Returns.STAT, "a file's status (.st_size, ...)"),
        _syscall("mmap", Returns.ADDR, "map pages"),
        _syscall("munmap", Returns.INT, "unmap pages"),
        _syscall("msync", Returns.INT, "write mapped pages back"),
        _syscall("mprotect", Returns.INT, "change page protections"),
        # mremap, madvise, mincore and the locking calls
        _syscall("mremap", Returns.ADDR, "grow, shrink or move a mapping", optional=2),
        _syscall("madvise", Returns.INT, "advise the kernel about pages"),
        _syscall("mincore", Returns.BYTES, "one byte per page: 1 if resident"),
        _syscall("mlock", Returns.INT, "lock pages in memory (made present)"),
        _syscall("mlock2", Returns.INT, "mlock, MLOCK_ONFAULT: as they fault"),
        _syscall("munlock", Returns.INT, "unlock pages"),
        _syscall("mlockall", Returns.INT, "lock every mapping (MCL_CURRENT, MCL_FUTURE)"),
        _syscall("munlockall", Returns.INT, "unlock every mapping"),
        # the language has no string arrays: execve's argv is the path alone
        CallSpec(
            "execve",
            abi.PROTOTYPES["execve"][:1],
            Returns.INT,
            0,
            True,
            "run a new program in this process",
        ),
        _syscall("exit", Returns.INT, "end this process", optional=1),
        _syscall("exit", Returns.INT, "end this process", optional=1, c_name="_exit"),
        _helper(
            "memcpy",
            "dest:ptr src:ptr n:size",
            Returns.ADDR,
            "copy n bytes in memory (loads, stores)",
        ),
        _helper("memset", "dest:ptr c:int n:size", Returns.ADDR, "fill n bytes with c (stores)"),
        _helper("frame", "addr:ptr", Returns.INT, "the frame number mapped at addr (-1: none)"),
        _helper(
            "start", "path:str", Returns.ADDR, "the lowest address mapping path ([heap], a file)"
        ),
        _helper(
            "perms", "addr:ptr", Returns.BYTES, 'the permissions of the mapping at addr ("rw-p")'
        ),
        _helper(
            "smaps", "addr:ptr field:str", Returns.INT, 'a counter of smaps at addr, in kB ("Rss")'
        ),
        _machine_helper("file", (("path", PATH),), "a file's bytes now"),
        _machine_helper(
            "disk", (("path", PATH),), "a file's bytes on its disk (what survives a crash)"
        ),
        _machine_helper("len", (("value", DATA),), "length of bytes"),
        _machine_helper("program", (), "a tiny static program, for execve"),
        # System V and POSIX shared memory, memfd, dup, waitpid
        _syscall("shmget", Returns.INT, "a System V segment"),
        _syscall("shmat", Returns.ADDR, "attach a segment"),
        _syscall("shmdt", Returns.INT, "detach a segment"),
        # the language has no structures: IPC_SET's shmid_ds is its mode alone
        CallSpec(
            "shmctl",
            (*abi.PROTOTYPES["shmctl"][:2], ("mode", INT)),
            Returns.SHMID_DS,
            1,
            True,
            "IPC_STAT (its fields), IPC_SET (a mode), IPC_RMID",
        ),
        _syscall("shm_open", Returns.INT, "POSIX shm", optional=1),
        _syscall("shm_unlink", Returns.INT, "remove a POSIX shm name"),
        _syscall("memfd_create", Returns.INT, "an anonymous file", optional=1),
        _syscall("dup", Returns.INT, "another fd for the same open file"),
        _syscall("dup2", Returns.INT, "make fd2 share fd's file"),
        _syscall("waitpid", Returns.PAIR, "(pid, status) of an ended child", optional=1),
    )
}
# the wait-status macros of <sys/wait.h>
CALLS.update(
    (name, _machine_helper(name, (("status", INT),), "a wait status"))
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
STAT_FIELDS = ("st_size", "st_mode", "st_mtime_ns", "st_ctime_ns", *SHM_FIELDS)

#: Names that stand for C values besides the constants: NULL and MAP_FAILED.
NULL = "NULL"
