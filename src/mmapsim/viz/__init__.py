"""The step-through page: processes, mappings, page tables, frames and files.

``write_html(recording, out)`` writes one self-contained HTML page (no server,
no network) for a recorded scenario; :func:`record` and :func:`record_file` run a
scenario on the simulator and keep each step's source line, result, events and
the machine's state after it; :func:`snapshot` is that state.
"""

from mmapsim.viz.page import page_data, render_page, write_html
from mmapsim.viz.record import Recording, StepRecord, record, record_file
from mmapsim.viz.snapshot import snapshot

__all__ = [
    "Recording",
    "StepRecord",
    "page_data",
    "record",
    "record_file",
    "render_page",
    "snapshot",
    "write_html",
]
