"""The writeback daemon: Linux's periodic ("kupdate") writeback of old dirty data.

Linux semantics (``Documentation/admin-guide/sysctl/vm.rst``,
``fs/fs-writeback.c``):

- ``vm.dirty_writeback_centisecs`` (500, 5 s): the flusher thread of a disk
  wakes this often while the disk has dirty data.  Its timer is armed when the
  first file of a clean disk becomes dirty (``wb_wakeup_delayed`` from
  ``__mark_inode_dirty``), and re-armed after each pass while dirty data
  remains.  0 turns the periodic writeback off.
- ``vm.dirty_expire_centisecs`` (3000, 30 s): data dirty for longer than this is
  old enough.  Age is counted **per inode**, from ``inode->dirtied_when``: the
  moment the inode went from clean to dirty.  An expired inode has *all* its
  dirty pages written, so a page dirtied a second ago goes with one dirtied a
  minute ago (seen on this computer's kernel too: a page stored 22 s after its
  neighbour reached the disk in the same pass, 31 s after the first store).
- ``msync(MS_ASYNC)`` starts nothing (since 2.6.19): its pages wait for this
  daemon, or for ``fsync``, ``msync(MS_SYNC)``, ``sync`` or reclaim.

Simplifications (``docs/deviations.md``): only dirty data makes a file dirty
here (Linux also queues inodes whose time stamps changed); the daemon is never
woken early by the background dirty threshold (``dirty_background_ratio``), and
it writes an expired inode whole in one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from mmapsim.clock import Clock
from mmapsim.fs.inode import Inode
from mmapsim.fs.pagecache import PageCache

#: Linux's defaults, in hundredths of a second.
DEFAULT_DIRTY_WRITEBACK_CENTISECS = 500
DEFAULT_DIRTY_EXPIRE_CENTISECS = 3000

_NS_PER_CENTISEC = 10_000_000


class WritebackDaemon:
    """The flusher thread of the one disk: wakes on the clock, writes expired inodes.

    ``inodes`` gives every inode that may hold dirty pages (named files and
    files that are unlinked but still open or mapped).
    """

    __slots__ = ("armed_ns", "clock", "expire_ns", "inodes", "interval_ns", "pagecache")

    def __init__(
        self,
        pagecache: PageCache,
        clock: Clock,
        inodes: Callable[[], Iterable[Inode]],
        *,
        writeback_centisecs: int = DEFAULT_DIRTY_WRITEBACK_CENTISECS,
        expire_centisecs: int = DEFAULT_DIRTY_EXPIRE_CENTISECS,
    ) -> None:
        self.pagecache = pagecache
        self.clock = clock
        self.inodes = inodes
        self.interval_ns = writeback_centisecs * _NS_PER_CENTISEC
        self.expire_ns = expire_centisecs * _NS_PER_CENTISEC
        #: When the flusher's timer fires next (None: not armed).
        self.armed_ns: int | None = None
        pagecache.on_first_dirty = self.file_dirtied

    def _dirty_files(self, but: Inode | None = None) -> bool:
        return any(i.dirty for i in self.inodes() if i.is_regular and i is not but)

    def file_dirtied(self, inode: Inode) -> None:
        """``inode`` went from clean to dirty: on a clean disk, arm the timer."""
        if self.interval_ns and inode.is_regular and not self._dirty_files(but=inode):
            self.armed_ns = self.clock.uptime_ns + self.interval_ns

    def expired(self, inode: Inode) -> bool:
        """Whether ``inode`` has been dirty for at least ``dirty_expire_centisecs``."""
        return bool(inode.dirty) and self.clock.uptime_ns - inode.dirtied_ns >= self.expire_ns

    def wake(self) -> int:
        """One periodic pass (``wb_check_old_data_flush``): the pages written.

        Re-arms the timer while dirty data remains.
        """
        old = [inode for inode in self.inodes() if inode.is_regular and self.expired(inode)]
        old.sort(key=lambda inode: (inode.dirtied_ns, inode.ino))
        written = sum(self.pagecache.writeback(inode, cause="flusher") for inode in old)
        more = self.interval_ns and self._dirty_files()
        self.armed_ns = self.clock.uptime_ns + self.interval_ns if more else None
        return written

    def run_until(self, uptime_ns: int) -> int:
        """Move the clock to ``uptime_ns``, waking whenever the timer fires on the way."""
        written = 0
        while self.armed_ns is not None and self.armed_ns <= uptime_ns:
            self.clock.advance_to(max(self.armed_ns, self.clock.uptime_ns))
            written += self.wake()
        self.clock.advance_to(uptime_ns)
        return written
