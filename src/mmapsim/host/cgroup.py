"""A cgroup per HostMachine: the kernel's bound on its processes and their memory.

The controller makes ``mmapsim-<zygote pid>`` under its own cgroup for the
``pids`` and ``memory`` controllers (cgroup v1, or the unified v2 hierarchy),
sets the limits, and moves the zygote in before it forks any worker: every
process of the machine is then counted.  ``remove`` deletes the groups once
the machine's processes are reaped, and a new machine sweeps the empty groups
of machines whose controller was killed before it could.  Without a writable hierarchy (not root,
or no such controller) ``create`` returns the groups it could make.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time

_V1 = "/sys/fs/cgroup"


def _own_paths() -> dict[str, str]:
    """Controller name -> this process's cgroup directory for it ("" key: v2)."""
    out: dict[str, str] = {}
    with open("/proc/self/cgroup", encoding="ascii", errors="replace") as f:
        for line in f:
            _id, names, path = line.rstrip("\n").split(":", 2)
            for name in names.split(",") if names else [""]:
                out[name] = path
    return out


def _v2_mount() -> str | None:
    with open("/proc/self/mountinfo", encoding="ascii", errors="replace") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup2":
                return fields[4]
    return None


def _dir_for(controller: str, own: dict[str, str]) -> str | None:
    if controller in own and os.path.isdir(os.path.join(_V1, controller)):
        return os.path.join(_V1, controller) + own[controller]
    mount = _v2_mount()
    if "" in own and mount is not None:
        base = mount + own[""]
        try:
            with open(os.path.join(base, "cgroup.controllers"), encoding="ascii") as f:
                if controller in f.read().split():
                    return base
        except OSError:
            return None
    return None


def _write(path: str, value: str) -> None:
    with open(path, "w", encoding="ascii") as f:
        f.write(value)


def create(zpid: int, max_processes: int, max_memory: int) -> list[str]:
    """Groups of the machine led by ``zpid`` with the limits set; the zygote is in each."""
    made: list[str] = []
    try:
        own = _own_paths()
    except OSError:
        return made
    settings = {
        "pids": [("pids.max", str(max_processes + 1))],
        "memory": [("memory.limit_in_bytes", str(max_memory)), ("memory.max", str(max_memory))],
    }
    for controller, files in settings.items():
        parent = _dir_for(controller, own)
        if parent is None:
            continue
        _sweep(parent)
        group = os.path.join(parent, f"mmapsim-{zpid}")
        try:
            os.makedirs(group, exist_ok=group in made)  # v2: one group for both
        except OSError:
            continue
        try:
            wrote = False
            for name, value in files:
                if os.path.exists(os.path.join(group, name)):
                    _write(os.path.join(group, name), value)
                    wrote = True
            if not wrote:
                raise OSError("no limit file")
            _write(os.path.join(group, "cgroup.procs"), str(zpid))
        except OSError:
            with contextlib.suppress(OSError):
                os.rmdir(group)
            continue
        if group not in made:
            made.append(group)
    return made


def remove(groups: list[str], timeout: float = 2.0) -> None:
    """Delete the machine's groups, waiting a little for its last processes to go."""
    deadline = time.monotonic() + timeout
    for group in groups:
        while True:
            try:
                os.rmdir(group)
            except FileNotFoundError:
                break
            except OSError as exc:
                if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                    break  # swept by a later machine (``_sweep``) once empty
                time.sleep(0.005)
                continue
            break


def _sweep(parent: str) -> None:
    """Remove the empty groups of machines whose zygote is gone (a controller was killed)."""
    with contextlib.suppress(OSError):
        for name in os.listdir(parent):
            pid = name[len("mmapsim-") :]
            if name.startswith("mmapsim-") and pid.isdigit() and not _alive(int(pid)):
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(parent, name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
