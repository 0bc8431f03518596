"""Names of a package that are imported on first use (PEP 562), so that
``import mmapsim.cli`` starts at once and ``from mmapsim import Machine`` still works."""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from importlib import import_module


def exports(
    package: str, lazy: Mapping[str, str], namespace: MutableMapping[str, object]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` for the names of ``lazy``
    (name -> the module that defines it): the first use imports the module and
    keeps the name in ``namespace``, the package's globals."""

    def getattr_(name: str) -> object:
        module = lazy.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted(set(namespace) | set(lazy))

    return getattr_, dir_
