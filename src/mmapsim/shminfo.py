"""What ``shmctl(IPC_STAT)`` answers: a System V segment's ``struct shmid_ds``.

Both machines answer ``Process.shmctl(shmid, IPC_STAT)`` with this class: the
simulator from its segment, HostMachine from the real kernel's ``shmid64_ds``
(x86-64 layout: ``ipc64_perm`` in the first 48 bytes, then size, three times,
two pids and the attach count).  Field names are C's, with ``shm_perm.x``
written ``shm_perm_x``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

#: ``struct shmid64_ds`` of x86-64: key, uid, gid, cuid, cgid, mode, seq (ipc64_perm,
#: padded to 48 bytes), then segsz, atime, dtime, ctime, cpid, lpid, nattch.
SHMID_DS: Final = struct.Struct("<iIIIIHxxHxx20xQqqqiiQ16x")


@dataclass(frozen=True, slots=True)
class ShmInfo:
    """One segment's status.

    ``shm_perm_mode`` holds the permission bits and the kernel's state bits
    (``SHM_DEST`` once IPC_RMID marked it for removal); ``shm_perm_key`` becomes
    ``IPC_PRIVATE`` at that moment.  ``shm_nattch`` counts the mappings of the
    segment (a mapping split in two by mprotect counts twice, as on Linux).
    Times are seconds of the real clock (0: never).
    """

    shm_perm_key: int
    shm_perm_uid: int
    shm_perm_gid: int
    shm_perm_cuid: int
    shm_perm_cgid: int
    shm_perm_mode: int
    shm_perm_seq: int
    shm_segsz: int
    shm_atime: int
    shm_dtime: int
    shm_ctime: int
    shm_cpid: int
    shm_lpid: int
    shm_nattch: int

    @classmethod
    def decode(cls, raw: bytes) -> ShmInfo:
        """The fields of a ``struct shmid64_ds`` as the kernel wrote it."""
        return cls(*SHMID_DS.unpack_from(raw))

    def encode(self) -> bytes:
        """The ``struct shmid64_ds`` that carries these fields (for IPC_SET)."""
        return SHMID_DS.pack(
            self.shm_perm_key,
            self.shm_perm_uid,
            self.shm_perm_gid,
            self.shm_perm_cuid,
            self.shm_perm_cgid,
            self.shm_perm_mode,
            self.shm_perm_seq,
            self.shm_segsz,
            self.shm_atime,
            self.shm_dtime,
            self.shm_ctime,
            self.shm_cpid,
            self.shm_lpid,
            self.shm_nattch,
        )
