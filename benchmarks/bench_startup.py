"""The command's start-up: ``python -c "import mmapsim.cli"`` beside a bare ``python -c pass``.

Each trial starts a fresh interpreter twice, interleaved: once importing the
command line (``mmapsim.cli``, what ``mmapsim --help`` and every command import
first) and once doing nothing; the figure is the median wall time of the
import less the median of the bare interpreter.  The child imports the same
mmapsim as this process (its source folder first on ``PYTHONPATH``).

The "simulator" column is the start-up beyond the bare interpreter, the
"kernel" column the bare interpreter's own start-up.

Target (issue 14): at most 150 ms beyond the bare interpreter.

    python benchmarks/bench_startup.py [--trials 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from _harness import TRIALS, Result, interleaved, median, source_env, spread, table, wall


def start(code: str, env: dict[str, str]) -> float:
    """Wall seconds of ``python -c code``."""
    t0 = wall()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return wall() - t0


def run(trials: int = TRIALS) -> list[Result]:
    """The median start-up of ``import mmapsim.cli`` beyond the bare interpreter's."""
    env = source_env()
    start("import mmapsim.cli", env)  # compile the byte code once, outside the trials
    cli, bare = interleaved(
        lambda: start("import mmapsim.cli", env) * 1000, lambda: start("pass", env) * 1000, trials
    )
    beyond = median(cli) - median(bare)
    return [
        Result(
            "start-up of import mmapsim.cli, beyond a bare python",
            "ms",
            beyond,
            median(bare),
            target="<= 150 ms",
            met=beyond <= 150,
            note=f"{spread('import', cli, 'ms')}; {spread('bare', bare, 'ms')}",
            higher=False,
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=TRIALS, help="trials per side")
    args = parser.parse_args(argv)
    print(table(run(args.trials)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
