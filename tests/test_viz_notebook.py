"""The picture inline in Jupyter: a notebook executed headless with nbclient.

The kernel is this interpreter (a kernel spec written into a temporary folder
that names ``sys.executable``), so the test needs no network and no kernel
installed by hand.  Skipped when nbclient or ipykernel is missing.
"""

from __future__ import annotations

import gc
import html
import json
import re
import sys
from pathlib import Path

import pytest

from mmapsim import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from mmapsim.machine import Machine
from mmapsim.process import Process
from mmapsim.viz import steps

pytestmark = pytest.mark.simonly

NOTEBOOK = Path(__file__).resolve().parent / "notebooks" / "steps.ipynb"
RW = PROT_READ | PROT_WRITE


def _page_data(page: str) -> dict:
    found = re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)
    assert found is not None
    return dict(json.loads(found.group(1).replace("<\\/", "</")))


def test_steps_records_each_call_and_restores_the_classes() -> None:
    """Inside the block each call is a step; after it, Process and Machine are untouched."""
    before = Process.store
    with Machine() as m, steps(m) as s:
        p = m.spawn("A")
        va = p.mmap(None, 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS)
        p.store(va, b"hi")
        with pytest.raises(OSError):
            p.munmap(va + 1, 4096)
    assert Process.store is before
    assert [r.source.split("(")[0] for r in s.records] == [
        "m.spawn",
        "A.mmap",
        "A.store",
        "A.munmap",
    ]
    assert s.records[-1].failed
    assert len(s) == 4
    assert "<iframe srcdoc=" in s._repr_html_()


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_notebook_shows_the_steps_machine_and_process_inline(tmp_path: Path) -> None:
    """Executing the notebook gives HTML outputs: the step-through, a process, a machine."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = tmp_path / "kernels" / "mmapsim-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "mmapsim test", "language": "python"})
    )
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    km = KernelManager(kernel_name="mmapsim-test", kernel_spec_manager=specs)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, km=km, timeout=120)
    client.execute()
    del client, km
    gc.collect()  # the kernel's sockets close here, under this test's warning filters
    outputs = [cell.outputs for cell in nb.cells]
    shown = [o["data"]["text/html"] for cell in outputs[1:] for o in cell if "data" in o]
    assert len(shown) == 3
    steps_html, process_html, machine_html = shown
    page = html.unescape(re.search(r'srcdoc="(.*?)"', steps_html, re.S).group(1))
    data = _page_data(page)
    assert data["title"] == "copy-on-write in a notebook"
    assert [s["source"].split("(")[0] for s in data["steps"]] == [
        "m.spawn",
        "Parent.mmap",
        "Parent.store",
        "Parent.fork",
        "Child.store",
    ]
    assert any(e["kind"] == "CowCopy" for e in data["steps"][-1]["events"])
    assert "Parent" in process_html
    assert "rw-p" in process_html
    assert "<iframe srcdoc=" in machine_html
