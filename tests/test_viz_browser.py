"""The step-through page in a real headless Chromium: what a reader sees, step by step.

Skipped when Chromium, its driver or Selenium is missing.  The run also writes
screenshots of three examples to ``docs/screenshots/`` (1280x800).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mmapsim.viz import record_file, write_html

pytestmark = pytest.mark.simonly

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,800",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module, its viewport 1280x800."""
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False},
    )
    yield driver
    driver.quit()


class Page:
    """An example's page opened in the browser, with the step of each source line."""

    def __init__(self, driver: Any, example: str, folder: Path) -> None:
        self.driver = driver
        recording = record_file(str(ROOT / "examples" / example))
        self.lines = [step.line for step in recording.steps]
        self.path = write_html(recording, folder / (Path(example).stem + ".html"))

    def open(self, line: int | None = None) -> None:
        """Open the page (at the step of source ``line``, through the URL fragment)."""
        step = 0 if line is None else self.lines.index(line) + 1
        self.driver.get(f"{self.path.as_uri()}#step-{step}")
        assert self.step == step

    @property
    def step(self) -> int:
        return int(self.driver.execute_script("return document.body.dataset.step"))

    def at_line(self, line: int) -> None:
        """Step forward with the Next button until the step of ``line`` shows."""
        while self.step < self.lines.index(line) + 1:
            self.driver.find_element("id", "next").click()

    def css(self, selector: str) -> list[Any]:
        return list(self.driver.find_elements("css selector", selector))

    def proc(self, name: str) -> Any:
        return next(p for p in self.css(".proc") if p.text.split()[0] == name)

    def screenshot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(SHOTS / name))


@pytest.fixture
def anon(browser: Any, tmp_path: Path) -> Page:
    return Page(browser, "textbook/anon_mmap.mmap", tmp_path)


def test_processes_and_mappings_are_counted(anon: Page) -> None:
    """After the fork there are two process columns, each with its mappings drawn."""
    anon.open(17)
    procs = anon.css(".proc")
    assert [p.text.split()[0] for p in procs] == ["Parent", "Child"]
    for proc in procs:
        boxes = proc.find_elements("css selector", ".vma")
        assert "· 7 mappings" in proc.text
        assert len(boxes) == 7
    assert anon.css(".vma.shared-anon")


def _private_page(page: Page, process: str) -> Any:
    column = page.proc(process)
    box = next(
        b
        for b in column.find_elements("css selector", ".vma.private-anon")
        if b.get_attribute("data-role") == "mmap"
    )
    return box.find_element("css selector", ".pg[data-state]")


def test_a_page_turns_copy_on_write_then_private(anon: Page) -> None:
    """After fork the private page is copy-on-write; the child's write makes its own copy."""
    anon.open(27)
    assert _private_page(anon, "Parent").get_attribute("data-state") == "cow"
    shared = _private_page(anon, "Child2").get_attribute("data-pfn")
    anon.at_line(28)
    mine = _private_page(anon, "Child2")
    assert mine.get_attribute("data-state") == "rw"
    assert mine.get_attribute("data-pfn") != shared
    assert "copy-on-write" in anon.driver.find_element("id", "events").text
    anon.screenshot("anon_mmap_cow.png")


def test_hovering_a_page_highlights_its_frame_everywhere(anon: Page) -> None:
    """Hovering the parent's shared page lights the child's page and the frame's row."""
    from selenium.webdriver.common.action_chains import ActionChains

    anon.open(18)
    cell = anon.proc("Parent").find_element("css selector", ".vma.shared-anon .pg[data-state]")
    pfn = cell.get_attribute("data-pfn")
    ActionChains(anon.driver).move_to_element(cell).perform()
    lit = anon.css(".hl")
    child = anon.proc("Child").find_element("css selector", ".vma.shared-anon .pg[data-state]")
    assert child.get_attribute("data-pfn") == pfn
    assert child in lit
    assert any(el.tag_name == "li" and el.get_attribute("data-pfn") == pfn for el in lit)


def test_msync_makes_the_dirty_page_clean(browser: Any, tmp_path: Path) -> None:
    """The store leaves the cached page dirty beside the old disk bytes; MS_SYNC cleans it."""
    page = Page(browser, "lecture/07_msync.mmap", tmp_path)
    page.open(20)
    cached = page.css('.file[data-path="/tmp/journal"] td.cached')[0]
    assert cached.get_attribute("data-dirty") == "true"
    assert "booted" not in page.css('.file[data-path="/tmp/journal"] td.disk')[0].text
    page.screenshot("msync_dirty.png")
    page.driver.find_element("tag name", "body").send_keys("\ue014")  # the right arrow
    page.at_line(26)
    cached = page.css('.file[data-path="/tmp/journal"] td.cached')[0]
    assert cached.get_attribute("data-dirty") == "false"
    assert "booted" in page.css('.file[data-path="/tmp/journal"] td.disk')[0].text
    assert "writeback" in page.driver.find_element("id", "events").text


def test_keys_and_fragment_move_between_steps(anon: Page) -> None:
    """The arrow keys step forward and back, and the URL fragment names the step."""
    anon.open()
    body = anon.driver.find_element("tag name", "body")
    body.send_keys("\ue014")
    body.send_keys("\ue014")
    assert anon.step == 2
    body.send_keys("\ue012")
    assert anon.step == 1
    assert anon.driver.current_url.endswith("#step-1")


def test_the_largest_example_is_small_and_opens_fast(browser: Any, tmp_path: Path) -> None:
    """The biggest example page is under 2 MB and is drawn within a second."""
    pages = [
        Page(browser, str(p.relative_to(ROOT / "examples")), tmp_path)
        for p in sorted((ROOT / "examples").glob("*/*.mmap"))
    ]
    largest = max(pages, key=lambda p: p.path.stat().st_size)
    assert largest.path.stat().st_size < 2_000_000
    largest.open()
    took = browser.execute_script(
        "const t = performance.getEntriesByType('navigation')[0]; return t.loadEventEnd;"
    )
    assert took < 1000
    largest.driver.find_element("id", "last").click()
    assert largest.step == len(largest.lines)


def test_screenshot_of_a_shared_file_mapping(browser: Any, tmp_path: Path) -> None:
    """Two unrelated processes map one page-cache frame; the picture is saved for the docs."""
    page = Page(browser, "lecture/03_shared_file_mapping.mmap", tmp_path)
    page.open(27)
    assert len(page.css(".vma.shared-file")) == 2
    page.screenshot("shared_file_mapping.png")
