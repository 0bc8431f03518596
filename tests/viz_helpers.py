"""What the visualizer's tests share."""

from __future__ import annotations


def big_scenario(steps: int = 500, pages: int = 2000) -> str:
    """A scenario of ``steps`` steps touching ``pages`` pages (a fork, stores, a file)."""
    lines = [
        'file /tmp/data "' + "d" * 64 + '"',
        f"A: p = mmap(NULL, {pages} * 4096, PROT_READ | PROT_WRITE, "
        "MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)",
        'A: fd = open("/tmp/data", O_RDWR)',
        "A: f = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)",
        f"A: memset(p, 0x41, {pages} * 4096)",
        "B = fork(A)",
    ]
    i = 0
    while len(lines) < steps:
        who = "AB"[i % 2]
        if i % 5 == 0:
            lines.append(f"{who}: f.int[{i % 100}] = {i}")
        else:
            lines.append(f"{who}: p.u64[{(i * 37) % pages} * 512] = {i}")
        i += 1
    return "\n".join(lines) + "\n"
