"""What the visualizer's tests share.

The long scenario is the page benchmark's own (``benchmarks/bench_viz_page.py``),
so the tests check the size of the very page the benchmark measures.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_viz_page.py"


def big_scenario(steps: int = 500, pages: int = 2000) -> str:
    """A scenario of ``steps`` steps touching ``pages`` pages (a fork, stores, a file)."""
    spec = importlib.util.spec_from_file_location("bench_viz_page", _BENCH)
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    text: str = bench.scenario(steps, pages)
    return text
