"""``python -m mmapsim``: the same as the ``mmapsim`` command."""

from mmapsim.cli import main

main()
