"""Contract paths (``/tmp/f``) and where they really live on this computer.

Each HostMachine has a private temporary directory that plays its root: the
contract path ``/tmp/f`` is ``<root>/tmp/f``.  ``/dev/zero`` and ``/dev/null``
are device nodes of the machine's own for the real devices.  Text that the
kernel writes (``/proc/<pid>/maps``, an error's file name) is rewritten back to
contract paths.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import re
import shutil
import stat
import tempfile
from typing import Final

#: Directories every machine has (the simulator's standard directories).
STANDARD_DIRS: Final = (
    "bin",
    "dev",
    "etc",
    "home",
    "lib",
    "proc",
    "tmp",
    "usr",
    "usr/bin",
    "usr/lib",
    "var",
    "var/tmp",
)
#: The devices every machine has: name -> (major, minor).
DEVICES: Final = {"/dev/zero": (1, 5), "/dev/null": (1, 3)}


def _base_dir() -> str | None:
    """Where roots go: ``$MMAPSIM_HOST_TMPDIR``, else the usual temporary directory.

    A disk file system is the faithful default: there msync(MS_SYNC) and fsync
    write dirty pages back and smaps shows them clean again.  A tmpfs such as
    /dev/shm is faster to create and delete, but its pages never become clean.
    """
    return os.environ.get("MMAPSIM_HOST_TMPDIR") or None


def _device_of(path: str) -> str | None:
    """The device that ``path`` names or lies under (``/dev/zero/x``), if any."""
    clean = re.sub("/+", "/", path if path.startswith("/") else "/" + path)
    return next((d for d in DEVICES if clean == d or clean.startswith(d + "/")), None)


def _make_devices(root: str) -> bool:
    """Make the machine's own /dev/zero and /dev/null; False without CAP_MKNOD."""
    try:
        for name, (major, minor) in DEVICES.items():
            node = root + name
            os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(major, minor))
            os.chmod(node, 0o666)
    except PermissionError:
        for name in DEVICES:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(root + name)
        return False
    return True


_PREFIX = "mmapsim-host-"
#: The contract's tmpfs, and where the computer has one.
TMPFS_DIR: Final = "/dev/shm"


def make_shm_dir(root: str) -> str:
    """A private directory on the computer's tmpfs, linked at ``<root>/dev/shm``.

    Without a writable tmpfs at /dev/shm, a plain directory of the root stands in.
    """
    link = root + TMPFS_DIR
    try:
        _sweep_orphans(TMPFS_DIR)
        shm = tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=TMPFS_DIR)
    except OSError:
        os.mkdir(link, 0o1777)
        os.chmod(link, 0o1777)
        return link
    os.chmod(shm, 0o1777)
    os.symlink(shm, link)
    return shm


def _sweep_orphans(base: str | None) -> None:
    """Remove the roots of controllers that died without cleaning up (SIGKILL).

    A root's name carries its controller's pid; one whose pid is gone is an orphan.
    """
    base = base or tempfile.gettempdir()
    with contextlib.suppress(OSError):
        for name in os.listdir(base):
            pid = name[len(_PREFIX) :].split("-", 1)[0]
            if name.startswith(_PREFIX) and pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(os.path.join(base, name), ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Namespace:
    """The private root directory of one machine, and its private tmpfs directory.

    ``/dev/shm`` (POSIX shared memory) is a symbolic link in the root to a
    directory of the machine's own on the computer's tmpfs (``shm``), so its
    files live in memory and are never written back, as on the simulator; the
    directory goes with the machine.
    """

    __slots__ = ("own_devices", "root", "shm")

    def __init__(self, root: str, own_devices: bool, shm: str | None = None) -> None:
        self.root = root
        self.own_devices = own_devices
        self.shm = shm or root + "/dev/shm"

    @classmethod
    def create(cls) -> Namespace:
        """A fresh root with the standard directories and its own device nodes."""
        base = _base_dir()
        _sweep_orphans(base)
        root = tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=base)
        for name in STANDARD_DIRS:
            os.mkdir(os.path.join(root, name), 0o755)
        return cls(root, _make_devices(root), make_shm_dir(root))

    def real(self, path: str) -> str:
        """Where the contract path ``path`` lives (a relative path starts at ``/``).

        The machine's /dev/zero and /dev/null are device nodes of its own (the
        same devices), so unlink or chmod never touch the real ones.  Without
        the right to make device nodes, opening them reaches the real devices,
        and changing them is refused with EPERM.
        """
        if not path:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        if not path.startswith("/"):
            path = "/" + path
        if ".." in path.split("/"):  # never climb out of the root
            path = posixpath.normpath(path)
        if not self.own_devices and _device_of(path):
            return path
        return self.root + path

    def changeable(self, path: str) -> str:
        """``real(path)`` for unlink and chmod, which must never reach a real device."""
        if not self.own_devices and _device_of(path):
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), path)
        return self.real(path)

    def contract(self, text: str) -> str:
        """``text`` with every real path of this machine written as its contract path."""
        return text.replace(self.root + "/", "/").replace(self.shm + "/", TMPFS_DIR + "/")

    def contract_error(self, exc: BaseException) -> BaseException:
        """``exc`` with its file names rewritten (an OSError from a file call)."""
        if isinstance(exc, OSError):
            for attr in ("filename", "filename2"):
                name = getattr(exc, attr)
                if isinstance(name, str) and name.startswith(self.shm):
                    setattr(exc, attr, TMPFS_DIR + name[len(self.shm) :])
                elif isinstance(name, str) and name.startswith(self.root):
                    setattr(exc, attr, name[len(self.root) :] or "/")
        return exc

    def remove(self) -> None:
        """Delete the root and everything under it, and the tmpfs directory."""
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.shm, ignore_errors=True)
