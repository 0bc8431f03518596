"""Disk images: what a power failure leaves, and a machine booted on it (simulator only)."""

from __future__ import annotations

import pytest

from helpers import PAGE, RW, new_file
from mmapsim import MAP_SHARED, MS_SYNC, O_RDWR, Machine
from mmapsim.fs.image import DiskImage, FileImage, dirty_pages

pytestmark = pytest.mark.simonly


def test_the_image_holds_the_disk_not_the_page_cache(sim):
    """A store that was not written back is not in the image; one after msync is."""
    p = sim.spawn()
    fd = new_file(sim, p, "/tmp/f", b"." * (2 * PAGE))
    a = p.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, 0)
    p.store(a, b"kept")
    p.msync(a, PAGE, MS_SYNC)
    p.store(a + PAGE, b"lost")
    data = sim.disk_image().read("/tmp/f")
    assert data[:4] == b"kept"
    assert data[PAGE : PAGE + 4] == b"...."
    assert sim.read_file("/tmp/f")[PAGE : PAGE + 4] == b"lost"


def test_dirty_pages_are_what_writeback_would_write(sim):
    """Each dirty page of a named file, whole, with zeros beyond the end of the file."""
    p = sim.spawn()
    fd = new_file(sim, p, "/tmp/f", b"." * (PAGE + 10))
    a = p.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, 0)
    p.store(a + PAGE, b"tail")
    (page,) = dirty_pages(sim.kernel.fs)
    assert (page.path, page.pgoff) == ("/tmp/f", 1)
    assert page.data == b"tail" + b"." * 6 + bytes(PAGE - 10)


def test_a_booted_machine_reads_the_image_from_disk():
    """Machine.boot gives a cold page cache over the image: the first access reads the disk."""
    with Machine() as m:
        m.write_file("/tmp/f", b"hello")
        m.write_file("/var/tmp/g", b"x" * 3 * PAGE)
        image = m.disk_image()
    with Machine.boot(image, check_invariants=True) as booted:
        assert booted.read_file("/tmp/f") == b"hello"
        assert booted.kernel.fs.lookup("/var/tmp/g").size == 3 * PAGE
        assert booted.disk_image().key() == image.key()
        assert booted.processes == []


def test_boot_makes_missing_directories_and_keeps_holes():
    """A file in a directory the new machine lacks, and a sparse file, come back as they were."""
    sparse = FileImage(1 << 40, 0o600, {3: b"z" * PAGE})
    image = DiskImage({"/data/deep/f": sparse})
    with Machine.boot(image) as m:
        p = m.spawn()
        fd = p.open("/data/deep/f", O_RDWR)
        assert p.fstat(fd).st_size == 1 << 40
        assert p.pread(fd, 2, 3 * PAGE) == b"zz"
        assert p.pread(fd, 2, 5 * PAGE) == b"\0\0"
        assert m.disk_image().files["/data/deep/f"].mode == 0o600


def test_equal_contents_have_equal_keys():
    """A zero page and a hole are the same content; a different byte is not."""
    hole = DiskImage({"/tmp/f": FileImage(PAGE, 0o644, {})})
    zeros = DiskImage({"/tmp/f": FileImage(PAGE, 0o644, {})})
    other = DiskImage({"/tmp/f": FileImage(PAGE, 0o644, {0: b"x" + bytes(PAGE - 1)})})
    assert hole.key() == zeros.key() != other.key()
    assert other.files["/tmp/f"].with_pieces([(0, b"\0")]).pages == {}


def test_boot_needs_an_image():
    """Booting on anything else is a TypeError."""
    with pytest.raises(TypeError):
        Machine.boot({"/tmp/f": b"x"})  # type: ignore[arg-type]


def test_a_booted_disk_counts_its_blocks():
    """Each page on the booted disk holds a block: st_blocks and the free space agree."""
    with Machine() as m:
        m.write_file("/tmp/f", b"x" * (3 * PAGE))
        image = m.disk_image()
        used = m.kernel.pagecache.space.used
    with Machine.boot(image, check_invariants=True) as booted:
        assert booted.kernel.pagecache.space.used == used
        p = booted.spawn()
        assert p.fstat(p.open("/tmp/f", O_RDWR)).st_blocks == 3 * PAGE // 512


def test_the_system_program_is_no_part_of_the_image():
    """The program every process runs is a system file: left out, installed again at boot."""
    with Machine() as m:
        m.spawn()
        m.write_file("/tmp/f", b"data")
        image = m.disk_image()
    assert sorted(image.files) == ["/tmp/f"]
    with Machine.boot(image, check_invariants=True) as booted:
        assert booted.spawn().alive
