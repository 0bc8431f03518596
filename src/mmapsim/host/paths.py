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


def _under_tmpfs(path: str) -> str | None:
    """The rest of ``path`` after ``/dev/shm`` ("" for the directory), or None."""
    if path == TMPFS_DIR or path.startswith(TMPFS_DIR + "/"):
        return path[len(TMPFS_DIR) :]
    return None


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

    ``/dev/shm`` (POSIX shared memory) is, once :meth:`use_private_tmpfs` is
    called, the private tmpfs that the machine's mount namespace has there (see
    ``sandbox``): its processes reach it at ``/dev/shm`` (``worker_shm``), the
    controller as ``/proc/<zygote>/root/dev/shm`` (``shm``); its files live in
    memory, are never written back, and go with the machine.  Without that
    namespace, a plain directory ``<root>/dev/shm`` stands in.
    """

    __slots__ = ("own_devices", "root", "shm", "worker_shm")

    def __init__(self, root: str, own_devices: bool) -> None:
        self.root = root
        self.own_devices = own_devices
        self.shm = self.worker_shm = root + TMPFS_DIR

    def use_private_tmpfs(self, zpid: int) -> None:
        """The machine's processes have a tmpfs of their own at /dev/shm (zygote ``zpid``)."""
        self.worker_shm = TMPFS_DIR
        self.shm = f"/proc/{zpid}/root{TMPFS_DIR}"

    def outside(self, path: str) -> str:
        """``real(path)`` as the controller reaches it (a tool outside every process)."""
        real = self.real(path)
        if self.worker_shm != self.shm and real.startswith(self.worker_shm):
            rest = _under_tmpfs(real)
            if rest is not None:
                return self.shm + rest
        return real

    @classmethod
    def create(cls) -> Namespace:
        """A fresh root with the standard directories and its own device nodes."""
        base = _base_dir()
        _sweep_orphans(base)
        root = tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=base)
        for name in STANDARD_DIRS:
            os.mkdir(os.path.join(root, name), 0o755)
        os.mkdir(root + TMPFS_DIR, 0o1777)
        os.chmod(root + TMPFS_DIR, 0o1777)
        return cls(root, _make_devices(root))

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
            path = self._walk_dotdot(path)
        if not self.own_devices and _device_of(path):
            return path
        squeezed = re.sub("/+", "/", path)
        if squeezed == "/":
            # the root itself: a path whose last part is '.' for the kernel too
            # (the root, '.' and '..' are all not-a-name, so O_CREAT|O_EXCL is
            # EEXIST there, where the root's own name plus '/' would be EISDIR)
            return self.root + "/."
        rest = _under_tmpfs(squeezed)
        if rest is not None and self.worker_shm == TMPFS_DIR:
            return TMPFS_DIR + rest  # the machine's own tmpfs, in its mount namespace
        return self.root + path

    def _walk_dotdot(self, path: str) -> str:
        """``path`` with each ``..`` taken as the kernel's walk takes it, never above ``/``.

        The walk reaches a ``..`` only through what stands before it: a missing
        name there is ENOENT and a file that is not a directory ENOTDIR, as
        ``link_path_walk`` finds them, so those are raised here; the path the
        kernel then walks holds no ``..``.
        """
        kept: list[str] = []
        for name in path.split("/"):
            if name != "..":
                if name not in ("", "."):
                    kept.append(name)
                elif name == "." and kept:
                    self._need_directory(kept, path)
                continue
            if kept:
                self._need_directory(kept, path)
                kept.pop()
        tail = "/" if path.endswith("/") and kept else ""
        return "/" + "/".join(kept) + tail

    def _need_directory(self, names: list[str], path: str) -> None:
        """ENOENT or ENOTDIR unless ``/names...`` is a directory of the machine."""
        prefix = "/" + "/".join(names)
        rest = _under_tmpfs(prefix)
        where = self.shm + rest if rest is not None else self.root + prefix
        try:
            mode = os.stat(where).st_mode
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path) from None
        if not stat.S_ISDIR(mode):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)

    def changeable(self, path: str) -> str:
        """``real(path)`` for unlink and chmod, which must never reach a real device."""
        if not self.own_devices and _device_of(path):
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), path)
        return self.real(path)

    def contract(self, text: str) -> str:
        """``text`` with every real path of this machine written as its contract path."""
        return text.replace(self.root + "/", "/")

    def contract_error(self, exc: BaseException) -> BaseException:
        """``exc`` with its file names rewritten (an OSError from a file call)."""
        if isinstance(exc, OSError):
            for attr in ("filename", "filename2"):
                name = getattr(exc, attr)
                if isinstance(name, str) and name.startswith(self.shm + "/"):
                    setattr(exc, attr, TMPFS_DIR + name[len(self.shm) :])
                elif isinstance(name, str) and name.startswith(self.root):
                    setattr(exc, attr, name[len(self.root) :] or "/")
        return exc

    def remove(self) -> None:
        """Delete the root and everything under it (a private tmpfs goes with its namespace)."""
        shutil.rmtree(self.root, ignore_errors=True)
