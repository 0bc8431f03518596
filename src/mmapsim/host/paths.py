"""Contract paths (``/tmp/f``) and where they really live on this computer.

Each HostMachine has a private temporary directory that plays its root: the
contract path ``/tmp/f`` is ``<root>/tmp/f``.  ``/dev/zero`` and ``/dev/null``
are the real devices.  Text that the kernel writes (``/proc/<pid>/maps``, an
error's file name) is rewritten back to contract paths.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
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
DEVICES: Final = frozenset({"/dev/zero", "/dev/null"})


def _base_dir() -> str | None:
    """Where roots go: a tmpfs when there is one (directory operations on a disk
    file system cost milliseconds), else the usual temporary directory."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return None


class Namespace:
    """The private root directory of one machine."""

    __slots__ = ("root",)

    def __init__(self, root: str) -> None:
        self.root = root

    @classmethod
    def create(cls) -> Namespace:
        """A fresh root with the standard directories."""
        root = tempfile.mkdtemp(prefix="mmapsim-host-", dir=_base_dir())
        for name in STANDARD_DIRS:
            os.mkdir(os.path.join(root, name), 0o755)
        return cls(root)

    def real(self, path: str) -> str:
        """Where the contract path ``path`` lives (a relative path starts at ``/``)."""
        if not path.startswith("/"):
            path = "/" + path
        if ".." in path.split("/"):  # never climb out of the root
            path = posixpath.normpath(path)
        if re.sub("/+", "/", path) in DEVICES:
            return path
        return self.root + path

    def contract(self, text: str) -> str:
        """``text`` with every real path of this machine written as its contract path."""
        return text.replace(self.root + "/", "/")

    def contract_error(self, exc: BaseException) -> BaseException:
        """``exc`` with its file names rewritten (an OSError from a file call)."""
        if isinstance(exc, OSError):
            for attr in ("filename", "filename2"):
                name = getattr(exc, attr)
                if isinstance(name, str) and name.startswith(self.root):
                    setattr(exc, attr, name[len(self.root) :] or "/")
        return exc

    def remove(self) -> None:
        """Delete the root and everything under it."""
        shutil.rmtree(self.root, ignore_errors=True)
