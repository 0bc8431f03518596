"""The scenario language: C-like steps run on the simulator or the real kernel.

    from mmapsim.scenario import parse_text, check_scenario, Runner
    scenario = parse_text(open("demo.mmap").read(), "demo.mmap")
    check_scenario(scenario)
    for result in Runner(machine).run(scenario):
        ...

The language is described in docs/scenarios.md; ``mmapsim run`` prints results
with :mod:`mmapsim.scenario.render`.
"""

from __future__ import annotations

from mmapsim.scenario.checker import check_scenario
from mmapsim.scenario.errors import ScenarioError
from mmapsim.scenario.parser import parse_file, parse_text
from mmapsim.scenario.runner import Runner, StepResult
from mmapsim.scenario.syntax import Scenario

__all__ = [
    "Runner",
    "Scenario",
    "ScenarioError",
    "StepResult",
    "check_scenario",
    "parse_file",
    "parse_text",
]
