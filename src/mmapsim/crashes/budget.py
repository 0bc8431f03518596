"""How much of a scenario's crash states the explorer checks, and prints, by default.

Apart from :mod:`mmapsim.crashes.command` so that ``mmapsim crashes --help`` can
show them without importing the explorer and the simulator.
"""

from __future__ import annotations

#: At most this many distinct crash states are checked; beyond, a seeded sample.
DEFAULT_MAX_STATES = 4096
#: At most this many failing states are printed in full.
DEFAULT_SHOW = 20
