"""The package's structure: imports run down DESIGN.md's layers, never up and never round.

Each module of ``src/mmapsim`` belongs to a *unit*: its first name under
``mmapsim`` (``mmapsim.mm.fault`` is in ``mm``, ``mmapsim.kernel`` is
``kernel``).  The units are ranked in ``LAYERS``, from what people touch down
to the vocabulary every layer shares; this is DESIGN.md's "Layers" with the
packages it does not name put where the code has them:

- ``cli``, ``crashes``, ``scenario``, ``viz`` (and ``__main__``): the front;
- ``mmapsim`` (the package's public names) and ``views`` (regions drawn for
  both scenario and viz): just below the front;
- ``machine``, ``process`` and its mixins, ``contract``, ``invariants``, and
  ``host``: the contract of API.md on the simulated kernel and on the real
  one.  ``host`` is a sibling of ``machine``, not below it; it must share
  nothing with the simulator but the contract and the ABI (``HOST_MAY_IMPORT``);
- ``userspace``: code that runs in a process and makes system calls (ld.so);
- ``syscalls``: one function per system call;
- ``loader``: execve's ELF loader and the first image, called by syscalls and
  by Machine.spawn;
- ``kernel``: the Kernel and Task that wire mm, ipc and fs together;
- ``mm``, then ``ipc`` (System V segments), then ``fs`` (inodes, page cache),
  then ``physmem``;
- the shared vocabulary: ``abi``, ``clock``, ``constants``, ``errors``,
  ``display``, ``events``, ``pageinfo``, ``shminfo``, ``shm_name``.

A unit may import its own layer's units and any lower layer's.  What counts:

- imports under ``if TYPE_CHECKING:`` do not (they never run; every module
  has ``from __future__ import annotations``), so annotations may name a
  higher layer's types;
- imports inside functions count for the layer rule (they run, only later),
  but not for the cycle rule: a late import is how a module breaks an
  import-time cycle, and a cycle of module-level imports is what fails at
  import time.

``KNOWN_UPWARD`` lists the upward imports that the code has today, each with
the reason it is there; new ones fail the test.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "mmapsim"

LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(layer.split())
    for layer in (
        "__main__ cli crashes scenario viz",
        "mmapsim views",
        "machine process process_ipc process_memory contract invariants invariants_ipc host",
        "userspace",
        "syscalls",
        "loader",
        "kernel",
        "mm",
        "ipc",
        "fs",
        "physmem",
        "abi clock constants display errors events lazy pageinfo shminfo shm_name",
    )
)
#: What the real-kernel machine may use: the contract, the ABI and the vocabulary.
HOST_MAY_IMPORT = frozenset(
    [
        "host",
        "contract",
        "abi",
        "clock",
        "constants",
        "errors",
        "events",
        "pageinfo",
        "shminfo",
        "shm_name",
    ]
)
#: Upward imports that exist today, as (importing module, imported module): why each is there.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}
#: Host imports of the simulator that exist today: why each is there.
KNOWN_HOST: dict[tuple[str, str], str] = {}
MAX_LINES = 400


@dataclass(frozen=True)
class Import:
    """One import of a mmapsim module by another."""

    importer: str
    imported: str
    late: bool  # inside a function


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (SRC.parent / rel).with_suffix(".py").is_file() or (SRC.parent / rel).is_dir()


def _targets(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The mmapsim modules an import statement loads (``from pkg import mod`` is pkg.mod)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "mmapsim"]
    if node.level or node.module is None or node.module.split(".")[0] != "mmapsim":
        return []
    subs = [f"{node.module}.{a.name}" for a in node.names]
    return [s for s in subs if _is_module(s)] or [node.module]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, tree: ast.AST) -> list[Import]:
    found: list[Import] = []

    def visit(node: ast.AST, late: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other, late)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.extend(Import(module, t, late) for t in _targets(child))
            inner = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, late or inner)

    visit(tree, False)
    return found


def _all_imports() -> list[Import]:
    found: list[Import] = []
    for path in sorted(SRC.rglob("*.py")):
        found += _imports(_module_name(path), ast.parse(path.read_text(), str(path)))
    return found


def unit(module: str) -> str:
    """The unit of a module: its first name below ``mmapsim``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def rank(u: str) -> int:
    """The layer of a unit, 0 at the top."""
    for i, layer in enumerate(LAYERS):
        if u in layer:
            return i
    raise AssertionError(f"unit {u!r} is in no layer of LAYERS: place it")


def test_every_unit_has_a_layer() -> None:
    """Every package and top-level module of mmapsim is placed in one layer."""
    units = {unit(_module_name(p)) for p in SRC.rglob("*.py")}
    for u in units:
        rank(u)
    placed = [u for layer in LAYERS for u in layer]
    assert len(placed) == len(set(placed))


def test_no_import_runs_up_the_layers() -> None:
    """No module imports from a layer above its own, except the known, explained ones."""
    upward = {
        (i.importer, i.imported)
        for i in _all_imports()
        if rank(unit(i.imported)) < rank(unit(i.importer))
    }
    assert upward - set(KNOWN_UPWARD) == set()


def test_host_shares_only_the_contract_with_the_simulator() -> None:
    """HostMachine imports nothing of the simulated kernel, only the contract and the ABI."""
    crossing = {
        (i.importer, i.imported)
        for i in _all_imports()
        if unit(i.importer) == "host" and unit(i.imported) not in HOST_MAY_IMPORT
    }
    assert crossing - set(KNOWN_HOST) == set()


def test_no_import_cycle_between_units() -> None:
    """The units' module-level imports form no cycle (late imports excluded)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for i in _all_imports():
        a, b = unit(i.importer), unit(i.imported)
        if not i.late and a != b:
            graph[a].add(b)
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def cycle_from(u: str, path: list[str]) -> list[str] | None:
        state[u] = 1
        for v in sorted(graph[u]):
            if state.get(v) == 1:
                return [*path[path.index(v) :], v] if v in path else [*path, v]
            if v not in state:
                found = cycle_from(v, [*path, v])
                if found:
                    return found
        state[u] = 2
        return None

    cycles = [c for u in sorted(graph) if u not in state and (c := cycle_from(u, [u]))]
    assert cycles == []


def test_no_module_is_over_400_lines() -> None:
    """Every module of src/ has at most 400 lines (STYLE.md 1)."""
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_file_basenames_are_unique() -> None:
    """No two modules share a file name, apart from ``__init__.py``."""
    seen: dict[str, list[str]] = defaultdict(list)
    for p in SRC.rglob("*.py"):
        if p.name != "__init__.py":
            seen[p.name].append(str(p.relative_to(SRC)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}
