"""The ``mmapsim`` command: one module per command, all on the group :data:`main`.

A thin layer over :mod:`mmapsim.scenario` and :mod:`mmapsim.viz`: each command
reads its options, makes the consoles and exits with the status those functions
return (0 every expect held, 1 one failed or the kernels disagreed, 2 a scenario
that cannot be read or run).
"""

from __future__ import annotations

from mmapsim.cli import (  # noqa: F401  (each registers its commands)
    commands,
    crashes,
    exercise,
    quiz,
    shell,
    tour,
)
from mmapsim.cli.group import main

__all__ = ["main"]
