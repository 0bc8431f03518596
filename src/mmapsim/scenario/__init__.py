"""The scenario language: C-like steps run on the simulator or the real kernel.

    from mmapsim.scenario import parse_text, check_scenario, Runner
    scenario = parse_text(open("demo.mmap").read(), "demo.mmap")
    check_scenario(scenario)
    for result in Runner(machine).run(scenario):
        ...

The language is described in docs/scenarios.md; ``mmapsim run`` prints results
with :mod:`mmapsim.scenario.render`.

Each name is imported on first use (PEP 562): importing a submodule such as
:mod:`mmapsim.scenario.render` does not import the runner and the simulator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmapsim import lazy

if TYPE_CHECKING:
    from mmapsim.scenario.lang.checker import check_scenario
    from mmapsim.scenario.lang.diagnostic import ScenarioError
    from mmapsim.scenario.lang.parser import parse_file, parse_text
    from mmapsim.scenario.lang.syntax import Scenario
    from mmapsim.scenario.run.runner import Runner, StepResult

#: The public names, and the module each comes from.
_LAZY = {
    "Runner": "mmapsim.scenario.run.runner",
    "Scenario": "mmapsim.scenario.lang.syntax",
    "ScenarioError": "mmapsim.scenario.lang.diagnostic",
    "StepResult": "mmapsim.scenario.run.runner",
    "check_scenario": "mmapsim.scenario.lang.checker",
    "parse_file": "mmapsim.scenario.lang.parser",
    "parse_text": "mmapsim.scenario.lang.parser",
}

__all__ = [
    "Runner",
    "Scenario",
    "ScenarioError",
    "StepResult",
    "check_scenario",
    "parse_file",
    "parse_text",
]


__getattr__, __dir__ = lazy.exports(__name__, _LAZY, globals())
