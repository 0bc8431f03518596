"""The kernel's confinement of a machine's processes: defence in depth under the boundary.

``boundary`` keeps a program's calls off the worker's own pages, in Python.  In
case it has a hole and code runs in a worker anyway, the machine's zygote puts
itself, before it forks any worker, under these layers, which every worker
inherits across fork(2) and execve(2) and cannot drop:

* **namespaces**: a private IPC namespace (System V segments, message queues
  and semaphores of the machine alone) and a private mount namespace whose
  ``/dev/shm`` is a fresh tmpfs of the machine alone, so that nothing of the
  computer's /dev/shm is visible.  A worker opens ``/dev/shm/NAME`` as usual;
  from outside, the controller reaches that tmpfs as
  ``/proc/<zygote pid>/root/dev/shm`` (``MachineState.zpid``).  Both vanish with
  the machine's last process.  A directory of the machine's own on the
  computer's /dev/shm (where ``<root>/dev/shm`` leads, or the root itself) is
  bound back at its own path, so controller and workers see the same files
  there, and Landlock allows it.  User and PID namespaces are not used: the
  controller addresses processes by their real pids, and root needs no user
  namespace to make the others;
* **no_new_privs**: no exec can gain privileges (set-user-ID, file capabilities);
* **Landlock**: files only beneath the machine's private root (every right) and
  its private ``/dev/shm``; read-only the interpreter, its libraries and the
  few system files it reads (``READ_ONLY``: not ``/etc/shadow``, not a disk);
  execution only of the worker's own interpreter, its ELF loader and programs
  beneath the private root (which ``execve`` probes stop before their first
  instruction); no TCP bind or connect;
  no signal to a process outside the machine, no abstract Unix socket outside it;
* **seccomp**: the system calls a worker never needs fail with EPERM
  (``DENIED``): new sockets, ptrace other than PTRACE_TRACEME, mount, bpf,
  kexec, keyctl, module loading, new namespaces, ...

:func:`confine` applies them and returns which layers are in force; the zygote
reports that to the controller, which warns once (``ConfinementWarning``) for
each layer this computer lacks.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Final

from mmapsim.host import libc

PR_SET_NO_NEW_PRIVS: Final = 38
PR_GET_NO_NEW_PRIVS: Final = 39
CLONE_NEWNS: Final = 0x00020000
CLONE_NEWIPC: Final = 0x08000000
_NS_FLAGS: Final = (
    0x00000080,  # CLONE_NEWTIME
    0x02000000,  # CLONE_NEWCGROUP
    CLONE_NEWNS,
    0x04000000,  # CLONE_NEWUTS
    CLONE_NEWIPC,
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)
MS_NOSUID: Final = 2
MS_NODEV: Final = 4
MS_BIND: Final = 0x1000
MS_REC: Final = 0x4000
MS_PRIVATE: Final = 1 << 18

#: The size of a machine's private /dev/shm.
SHM_SIZE: Final = "64m"

#: Read-only for every worker: the interpreter and what it reads.
READ_ONLY: Final = (
    "/usr",
    "/lib",
    "/lib64",
    "/proc",  # the worker's own maps; Landlock keeps other domains' mem and ptrace away
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/dev/urandom",
    "/dev/random",
)
#: The real devices a worker may read and write (a machine without its own nodes).
DEVICES: Final = ("/dev/null", "/dev/zero")

#: System calls a worker never makes; each fails with EPERM.
DENIED: Final = (
    "socket",
    "socketpair",
    "bind",
    "listen",
    "accept",
    "accept4",
    "connect",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsmount",
    "fsconfig",
    "fspick",
    "mount_setattr",
    "bpf",
    "kexec_load",
    "kexec_file_load",
    "keyctl",
    "add_key",
    "request_key",
    "init_module",
    "finit_module",
    "delete_module",
    "unshare",
    "setns",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "open_by_handle_at",
    "name_to_handle_at",
    "swapon",
    "swapoff",
    "reboot",
    "acct",
    "quotactl",
    "syslog",
    "iopl",
    "ioperm",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "sethostname",
    "setdomainname",
    "vhangup",
    "mknod",
    "mknodat",
    "lookup_dcookie",
)


class ConfinementWarning(UserWarning):
    """A layer of the kernel's confinement is not available on this computer."""


def _shm_dir(root: str) -> str | None:
    """Where the machine's ``/dev/shm`` really is, when ``<root>/dev/shm`` leads elsewhere."""
    real = os.path.realpath(root + "/dev/shm")
    inside_root = real.startswith(os.path.realpath(root) + "/")
    return real if os.path.isdir(real) and not inside_root else None


def _under_shm(path: str) -> bool:
    return path == "/dev/shm" or path.startswith("/dev/shm/")


def _private_ipc() -> bool:
    """A private IPC namespace (kept if the zygote already has one of its own)."""
    try:
        if os.readlink("/proc/self/ns/ipc") != os.readlink(f"/proc/{os.getppid()}/ns/ipc"):
            return True
    except OSError:
        pass
    try:
        libc.unshare(CLONE_NEWIPC)
    except OSError:
        return False
    return True


def _unshare_and_mount(root: str) -> list[str]:
    """A private IPC and mount namespace, with a fresh tmpfs at /dev/shm.

    The machine's own directories that lie on the computer's /dev/shm (its
    private root, under ``MMAPSIM_HOST_TMPDIR=/dev/shm``, or the directory that
    ``<root>/dev/shm`` leads to) are bound back at their own paths inside the
    fresh tmpfs, so that the machine's processes and the controller keep
    seeing the same directories; nothing else of the computer's /dev/shm is
    visible to the machine.
    """
    got = ["ipc"] if _private_ipc() else []
    try:
        libc.unshare(CLONE_NEWNS)
        libc.mount("none", "/", None, MS_REC | MS_PRIVATE, None)
    except OSError:
        return got
    kept = [os.path.realpath(root), _shm_dir(root) or ""]
    keep = {path: os.open(path, os.O_PATH | os.O_CLOEXEC) for path in kept if _under_shm(path)}
    try:
        libc.mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={SHM_SIZE},mode=1777")
        for path, fd in keep.items():
            os.makedirs(path, exist_ok=True)
            libc.mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC, None)
        got.append("shm")
    except OSError:
        pass
    finally:
        for fd in keep.values():
            os.close(fd)
    return got


def _interpreter_files() -> list[str]:
    """The interpreter a fresh worker image execs, and its ELF loader."""
    files = [os.path.realpath(sys.executable)]
    for loader in ("/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"):
        if os.path.exists(loader):
            files.append(os.path.realpath(loader))
    return files


def _read_only_paths(pkgdir: str) -> list[str]:
    paths = [*READ_ONLY, sys.prefix, sys.base_prefix, sys.exec_prefix, pkgdir]
    paths.append(os.path.dirname(os.path.realpath(sys.executable)))
    return [p for p in dict.fromkeys(os.path.realpath(p) for p in paths) if os.path.exists(p)]


def _landlock(root: str, pkgdir: str, shm: bool) -> bool:
    from mmapsim.host import landlock

    abi = landlock.abi()
    if abi < 1:
        return False
    rules = landlock.Ruleset(abi)
    for path in _read_only_paths(pkgdir):
        rules.allow(path, landlock.READ)
    for path in _interpreter_files():
        rules.allow(path, landlock.READ_FILE | landlock.EXECUTE)
    rules.allow(root, rules.all_fs)
    shm_dir = _shm_dir(root)
    if shm_dir is not None:  # the machine's own POSIX shared memory directory
        rules.allow(shm_dir, rules.all_fs & ~landlock.EXECUTE)
    if shm:
        rules.allow("/dev/shm", rules.all_fs & ~landlock.EXECUTE)
    for device in DEVICES:
        rules.allow(device, landlock.READ_FILE | landlock.WRITE_FILE)
    rules.restrict_self()
    return True


def _seccomp() -> bool:
    try:
        import pyseccomp as seccomp  # type: ignore[import-untyped]
    except (ImportError, OSError):  # the package, or libseccomp itself, is missing
        return False
    flt = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    deny = seccomp.ERRNO(errno.EPERM)
    for name in DENIED:
        try:
            flt.add_rule(deny, name)
        except (OSError, ValueError, RuntimeError):
            continue  # a call this architecture has not
    flt.add_rule(deny, "ptrace", seccomp.Arg(0, seccomp.NE, libc.PTRACE_TRACEME))
    for flag in _NS_FLAGS:
        flt.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    flt.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")  # glibc falls back to clone
    flt.load()
    return True


def confine(root: str, pkgdir: str) -> list[str]:
    """Put this process (a zygote, before any fork) under every layer it can; their names."""
    layers = _unshare_and_mount(root)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1)
    layers.append("no_new_privs")
    try:
        if _landlock(root, pkgdir, "shm" in layers):
            layers.append("landlock")
    except OSError:
        pass  # reported as missing: the controller warns
    try:
        if _seccomp():
            layers.append("seccomp")
    except OSError:
        pass
    return layers


#: Every layer, and what it is, for the warning about a missing one.
LAYERS: Final = {
    "ipc": "a private IPC namespace",
    "shm": "a private /dev/shm (a mount namespace)",
    "no_new_privs": "no_new_privs",
    "landlock": "the Landlock file rules",
    "seccomp": "the seccomp filter (pyseccomp and libseccomp)",
    "cgroup": "a cgroup bounding its processes and memory (max_processes, max_memory)",
}

_warned: set[str] = set()


def warn_missing(layers: list[str]) -> None:
    """Warn once per controller for each layer that the zygote could not put in force."""
    import warnings

    for name, what in LAYERS.items():
        if name not in layers and name not in _warned:
            _warned.add(name)
            warnings.warn(
                f"HostMachine runs without {what} on this computer; "
                "see docs/security.md for what that leaves open",
                ConfinementWarning,
                stacklevel=3,
            )


def in_force(pid: int) -> dict[str, bool]:
    """What ``/proc/<pid>/status`` says of the layers of process ``pid``."""
    status: dict[str, str] = {}
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    return {
        "no_new_privs": status.get("NoNewPrivs") == "1",
        "seccomp": status.get("Seccomp") == "2",
    }
