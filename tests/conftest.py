"""Fixtures: one semantic test, two machines.

``machine`` runs a test on the simulated kernel (with the invariant checker after
every system call) and on the real Linux kernel through HostMachine.  A test that
inspects simulator internals takes ``sim`` instead, or is marked ``simonly``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from mmapsim import Machine
from mmapsim.contract import MachineAPI
from mmapsim.host.cpu import has_pkeys

# Hypothesis profiles: "ci" unless HYPOTHESIS_PROFILE names another; "long" for a
# soak run (HYPOTHESIS_PROFILE=long pytest tests/test_vmaset_property.py).  A test
# that sets its own max_examples takes max(its own, settings().max_examples).
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "long", max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _host_machine() -> MachineAPI:
    if not sys.platform.startswith("linux"):
        pytest.skip("HostMachine needs the Linux kernel")
    from mmapsim.host import HostMachine

    return HostMachine()


@pytest.fixture(params=["sim", "host"])
def machine(request: pytest.FixtureRequest) -> Iterator[MachineAPI]:
    """A fresh machine of each kind: the simulator, then the real kernel.

    The simulated CPU is this computer's: protection keys when it has them."""
    if request.param == "host":
        if request.node.get_closest_marker("simonly"):
            pytest.skip("inspects simulator internals")
        m = _host_machine()
    else:
        m = Machine(check_invariants=True, pkeys=has_pkeys())
    with m:
        yield m


@pytest.fixture
def sim() -> Iterator[Machine]:
    """A fresh simulated machine that checks its invariants after every call."""
    with Machine(check_invariants=True) as m:
        yield m


@pytest.fixture
def is_host(machine: MachineAPI) -> bool:
    """True when the test runs on the real kernel."""
    return not isinstance(machine, Machine)
