"""The loader's layout against Linux's: a real program of the host, ASLR off.

Linux's truth comes from this computer's kernel: ``gdb`` stopped at the first
instruction of ``setarch -R /usr/bin/cat`` shows what the kernel alone mapped
(the program, ld.so, the vDSO, the stack), and ``setarch -R cat
/proc/self/maps`` what ld.so added (the libraries).  Both are compared with the
simulator's ``maps()`` line by line: start, end, protections, offset and name
(the device and inode fields are each machine's own).  ``[vsyscall]``, outside
user space, is not modelled; in the full list only the files that the program
and ld.so map are compared (not the locale files that cat opens later).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from mmapsim import Machine

pytestmark = [
    pytest.mark.hostonly,
    pytest.mark.skipif(
        not (shutil.which("setarch") and shutil.which("gdb") and os.path.exists("/usr/bin/cat")),
        reason="needs setarch, gdb and /usr/bin/cat",
    ),
]
CAT = "/usr/bin/cat"
MOUNTS = ("/usr", "/lib", "/lib64", "/etc/ld.so.cache")
Row = tuple[int, int, str, int, str]


def _parse_maps(text: str) -> list[Row]:
    rows = []
    for line in text.splitlines():
        f = line.split(maxsplit=5)
        start, end = (int(x, 16) for x in f[0].split("-"))
        rows.append((start, end, f[1], int(f[2], 16), f[5] if len(f) > 5 else ""))
    return [r for r in rows if r[4] != "[vsyscall]"]


def _kernel_made() -> list[Row]:
    """gdb's mappings of cat at its first instruction, before ld.so runs."""
    cmd = ["env", "-i", "setarch", "-R", "gdb", "-nx", "-batch", "-ex", "starti"]
    cmd += ["-ex", "info proc mappings", "--args", CAT, "/dev/null"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    pat = re.compile(
        r"^\s*0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)\s*(.*)$"
    )
    rows = [
        (int(m[1], 16), int(m[2], 16), m[4], int(m[3], 16), m[5].strip())
        for m in map(pat.match, out.splitlines())
        if m
    ]
    if not rows:
        pytest.skip("gdb could not trace a process here")
    return [r for r in rows if r[4] != "[vsyscall]"]


def _linux_full() -> list[Row]:
    cmd = ["env", "-i", "setarch", "-R", CAT, "/proc/self/maps"]
    return _parse_maps(subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout)


def _sim_maps(libraries: bool) -> list[Row]:
    with Machine(host_mounts=MOUNTS, check_invariants=True) as m:
        p = m.spawn()
        p.execve(CAT, ["cat", "/proc/self/maps"], libraries=libraries)
        return _parse_maps(p.maps())


def _show(title: str, rows: list[Row]) -> None:
    print(title)
    for s, e, perms, off, name in rows:
        print(f"  {s:012x}-{e:012x} {perms} {off:08x} {name}")


def test_kernel_made_mappings_of_cat_match_linux() -> None:
    """Program segments, ld.so, vDSO and stack: same addresses, protections, offsets, names."""
    linux, sim = _kernel_made(), _sim_maps(libraries=False)
    _show("Linux (setarch -R, first instruction):", linux)
    _show("simulator:", sim)
    assert sim == linux


def test_library_mappings_of_cat_match_linux() -> None:
    """With ld.so's mappings, every file mapping of cat matches Linux's, in order."""
    sim = _sim_maps(libraries=True)
    names = {r[4] for r in sim if r[4].startswith("/")}
    linux = [r for r in _linux_full() if r[4] in names]
    sim_files = [r for r in sim if r[4] in names]
    _show("Linux (setarch -R cat /proc/self/maps), the program's and ld.so's files:", linux)
    _show("simulator:", sim_files)
    assert sim_files == linux
    assert any("libc.so" in n for n in names)


def test_the_heap_starts_where_linux_puts_it() -> None:
    """The break of cat starts right after its .bss, where Linux's [heap] begins."""
    heap = [r for r in _linux_full() if r[4] == "[heap]"]
    with Machine(host_mounts=MOUNTS) as m:
        p = m.spawn()
        p.execve(CAT, ["cat"])
        start = p.brk(0)
        p.brk(start + 0x21000)
        sim_heap = [r for r in _parse_maps(p.maps()) if r[4] == "[heap]"]
    print(f"Linux [heap] {heap}, simulator break {start:#x}, [heap] {sim_heap}")
    assert heap
    assert start == heap[0][0]
    assert sim_heap == heap
