"""``mmapsim exercise``: a seeded exercise for a topic, to answer with ``mmapsim quiz``."""

from __future__ import annotations

import random

import click

from mmapsim.cli.group import main
from mmapsim.scenario.learn.exercises.topics import TOPICS


@main.command()
@click.option("--topic", "-t", type=click.Choice(list(TOPICS)), required=True, help="What about.")
@click.option(
    "--seed", "-s", type=int, default=None, help="Which exercise (default: a random one)."
)
@click.option("--solve", "solved", is_flag=True, help="Write each answer into its question.")
def exercise(topic: str, seed: int | None, solved: bool) -> None:
    """Write a fresh exercise on TOPIC: a scenario of questions for mmapsim quiz.

    The same seed gives the same exercise; --solve adds the answers, computed
    by the simulator.  Save it and run it:

        mmapsim exercise --topic fork --seed 3 > ex.mmap && mmapsim quiz ex.mmap
    """
    from mmapsim.scenario.learn.exercises import generate, solve

    if seed is None:
        seed = random.SystemRandom().randrange(10_000)
    text = generate(topic, seed)
    click.echo(solve(text, f"{topic}-{seed}.mmap") if solved else text, nl=False)
