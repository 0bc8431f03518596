"""The step-through page: processes, mappings, page tables, frames and files.

``write_html(recording, out)`` writes one self-contained HTML page (no server,
no network) for a recorded scenario; :func:`record` and :func:`record_file` run a
scenario on the simulator and keep each step's source line, result, events and
what changed in the machine; :func:`snapshot` is the whole machine at once.
:func:`steps` records a block of Python calls for a notebook, and
:mod:`mmapsim.viz.export` turns a page into images and a printable handout.
"""

from mmapsim import display
from mmapsim.viz.inline import Steps, machine_html, process_html, steps
from mmapsim.viz.page import Links, page_data, render_page, write_html
from mmapsim.viz.record import Recording, StepRecord, record, record_file
from mmapsim.viz.snapshot import snapshot

# Machine and Process show themselves in Jupyter with these from now on
display.register_html("machine", machine_html)
display.register_html("process", process_html)

__all__ = [
    "Links",
    "Recording",
    "StepRecord",
    "Steps",
    "machine_html",
    "page_data",
    "process_html",
    "record",
    "record_file",
    "render_page",
    "snapshot",
    "steps",
    "write_html",
]
