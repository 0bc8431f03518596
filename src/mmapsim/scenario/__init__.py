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

from mmapsim.scenario.lang.checker import check_scenario
from mmapsim.scenario.lang.diagnostic import ScenarioError
from mmapsim.scenario.lang.parser import parse_file, parse_text
from mmapsim.scenario.lang.syntax import Scenario
from mmapsim.scenario.run.runner import Runner, StepResult

__all__ = [
    "Runner",
    "Scenario",
    "ScenarioError",
    "StepResult",
    "check_scenario",
    "parse_file",
    "parse_text",
]
