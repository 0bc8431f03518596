"""execve(2) on the simulated kernel: the old image goes, the ELF program is mapped."""

from __future__ import annotations

import errno
import os

import pytest

from elfgen import static_program
from mmapsim import (
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MAP_SHARED,
    O_CREAT,
    O_RDWR,
    PROT_READ,
    PROT_WRITE,
    Machine,
)

pytestmark = pytest.mark.simonly
HOST_CAT = "/usr/bin/cat"
needs_host_cat = pytest.mark.skipif(not os.path.exists(HOST_CAT), reason="no /usr/bin/cat")


def _install(m: Machine, path: str = "/tmp/prog", data: bytes | None = None) -> str:
    m.write_file(path, static_program() if data is None else data)
    m.spawn().chmod(path, 0o755)
    return path


def _names(maps: str) -> list[str]:
    return [line[73:] for line in maps.splitlines() if len(line) > 73]


def test_every_old_mapping_is_gone_after_execve(sim: Machine) -> None:
    """After execve only the new program's mappings remain."""
    prog = _install(sim)
    p = sim.spawn()
    fd = p.open("/tmp/data", O_RDWR | O_CREAT)
    p.ftruncate(fd, 4096)
    p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
    p.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.execve(prog)
    assert _names(p.maps()) == [
        "/tmp/prog",
        "/tmp/prog",
        "[vvar]",
        "[vvar_vclock]",
        "[vdso]",
        "[stack]",
    ]


def test_the_segments_are_private_file_mappings_with_bss_anonymous(sim: Machine) -> None:
    """PT_LOADs map the file privately at their addresses; .bss beyond the file is zeros."""
    prog = _install(sim)
    p = sim.spawn()
    p.execve(prog, ["prog", "arg"])
    lines = p.maps().splitlines()
    assert lines[0].startswith("00400000-00401000 r-xp 00000000 ")
    assert lines[1].startswith("00401000-00402000 rw-p 00001000 ")
    assert lines[2].startswith("00402000-00405000 rw-p 00000000 00:00 0")
    assert p.load(0x401100, 8) == b"DATADATA"
    assert p.load(0x401120, 16) == bytes(16)  # padzero: the file page's tail reads zeros
    assert p.load(0x404FF0, 16) == bytes(16)


@pytest.mark.parametrize(
    ("path", "data", "mode", "code"),
    [
        ("/tmp/missing", None, None, errno.ENOENT),
        ("/tmp/noexec", b"\x7fELF", 0o644, errno.EACCES),
        ("/tmp", None, None, errno.EACCES),
        ("/tmp/text", b"hello, world\n", 0o755, errno.ENOEXEC),
        ("/tmp/junk", b"\x7fELF\x02\x01\x01" + bytes(100), 0o755, errno.ENOEXEC),
    ],
)
def test_execve_errors_change_nothing(
    sim: Machine, path: str, data: bytes | None, mode: int | None, code: int
) -> None:
    """ENOENT, EACCES and ENOEXEC come before the point of no return."""
    p = sim.spawn()
    if data is not None:
        sim.write_file(path, data)
        p.chmod(path, mode or 0o644)
    before = p.maps()
    with pytest.raises(OSError) as e:
        p.execve(path)
    assert e.value.errno == code
    assert p.maps() == before


def test_a_missing_interpreter_is_ENOENT_and_changes_nothing(sim: Machine) -> None:
    """A program whose PT_INTERP does not exist cannot be exec'd."""
    from elfgen import ET_DYN, PF_R, PF_X, Seg, make_elf

    data = make_elf([Seg(0, 0, bytes(0x300), 0x300, PF_R | PF_X)], etype=ET_DYN, interp="/nope")
    prog = _install(sim, "/tmp/dyn", data)
    p = sim.spawn()
    before = p.maps()
    with pytest.raises(OSError) as e:
        p.execve(prog)
    assert e.value.errno == errno.ENOENT
    assert p.maps() == before


def test_fork_and_exit_after_execve(sim: Machine) -> None:
    """An exec'd process forks and exits like any other."""
    prog = _install(sim)
    p = sim.spawn()
    p.execve(prog)
    p.store(0x401100, b"data")
    child = p.fork()
    assert child.load(0x401100, 4) == b"data"
    assert child.maps() == p.maps()
    child.exit(0)
    p.exit(0)
    assert not p.alive


@needs_host_cat
def test_two_runs_of_cat_share_libc_text_frames() -> None:
    """With the dynamic loader's mappings, libc's text frames are shared (pagemap)."""
    with Machine(host_mounts=("/usr", "/lib", "/lib64"), check_invariants=True) as m:
        a, b = m.spawn(), m.spawn()
        a.execve(HOST_CAT, ["cat"], libraries=True)
        b.execve(HOST_CAT, ["cat"], libraries=True)
        text = [ln for ln in a.maps().splitlines() if "r-xp" in ln and "libc.so" in ln]
        assert len(text) == 1
        va = int(text[0].split("-")[0], 16)
        a.load(va, 1)
        b.load(va, 1)
        pa, pb = a.pagemap(va), b.pagemap(va)
        assert pa.present
        assert pa.file_or_shared
        assert pa.pfn == pb.pfn


def test_randomised_layouts_repeat_with_the_same_seed() -> None:
    """With aslr on, the same seed gives the same layout, another seed another one."""

    def layout(seed: int) -> str:
        with Machine(aslr=True, seed=seed) as m:
            _install(m)
            p = m.spawn()
            p.execve("/tmp/prog")
            p.mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS)
            return p.maps()

    assert layout(1) == layout(1)
    assert layout(1) != layout(2)
    stack = layout(3).splitlines()[-1]
    assert stack.endswith("[stack]")
    assert 0x7FFFFFFFF000 - 2**34 <= int(stack.split("-")[1][:12], 16) <= 0x7FFFFFFFF000
