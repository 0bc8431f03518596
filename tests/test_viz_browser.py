"""The step-through page in a real headless Chromium: what a reader sees, step by step.

Skipped when Chromium, its driver or Selenium is missing.  One browser serves
the whole module.  With ``MMAPSIM_SCREENSHOTS=1`` the run also refreshes the
screenshots of the docs (``docs/screenshots/``) at 1024x768 and 1920x1080;
otherwise it takes them into a temporary folder, so a test run leaves the
work tree as it was.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mmapsim.scenario.lang.parser import parse_text
from mmapsim.viz import record, record_file, write_html
from mmapsim.viz.export import CHROMIUM_FLAGS, NoBrowser, chromium_paths, set_viewport
from mmapsim.viz.site import write_tour_pages
from mmapsim.viz.tracker import Tracker
from viz_helpers import big_scenario

pytestmark = pytest.mark.simonly

ROOT = Path(__file__).resolve().parent.parent
REFRESH_SHOTS = os.environ.get("MMAPSIM_SCREENSHOTS") == "1"
SHOTS = ROOT / "docs" / "screenshots"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
AXE_VERSION = "4.14.1"
SMALL, LARGE = (1024, 768), (1920, 1080)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module, its viewport 1024x768 to start with."""
    try:
        chromium, driver_path = chromium_paths()
    except NoBrowser as err:
        pytest.skip(str(err))
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    set_viewport(driver, *SMALL)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pages")


class Page:
    """An example's page opened in the browser, with the step of each source line."""

    def __init__(self, driver: Any, example: str, folder: Path) -> None:
        self.driver = driver
        recording = record_file(str(ROOT / "examples" / example))
        self.lines = [step.line for step in recording.steps]
        self.path = write_html(recording, folder / (Path(example).stem + ".html"))
        self.shots = SHOTS if REFRESH_SHOTS else folder

    def open(self, line: int | None = None, size: tuple[int, int] = SMALL) -> None:
        """Open the page at ``size`` (at the step of source ``line``, by the URL fragment)."""
        set_viewport(self.driver, *size)
        step = 0 if line is None else self.lines.index(line) + 1
        self.driver.get("about:blank")
        self.driver.get(f"{self.path.as_uri()}#step-{step}")
        assert self.step == step

    @property
    def step(self) -> int:
        return int(self.js("return document.body.dataset.step"))

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def at_line(self, line: int) -> None:
        """Step forward with the Next button until the step of ``line`` shows."""
        while self.step < self.lines.index(line) + 1:
            self.driver.find_element("id", "next").click()

    def css(self, selector: str, within: Any = None) -> list[Any]:
        return list((within or self.driver).find_elements("css selector", selector))

    def proc(self, name: str) -> Any:
        return next(p for p in self.css(".proc") if p.text.split()[0] == name)

    def lesson_page(self, process: str, kind: str) -> Any:
        box = self.css(f".vma.lesson.{kind}", self.proc(process))[0]
        return self.css(".pg[data-state]", box)[0]

    def frame_row(self, pfn: str) -> Any:
        return next(r for r in self.css("#frames li.frame") if r.get_attribute("data-pfn") == pfn)

    def no_horizontal_scroll(self) -> bool:
        return bool(self.js("return document.documentElement.scrollWidth <= innerWidth"))

    def screenshot(self, name: str) -> None:
        self.shots.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(self.shots / name))


@pytest.fixture(scope="module")
def anon(browser: Any, folder: Path) -> Page:
    return Page(browser, "textbook/anon_mmap.mmap", folder)


def test_the_program_folds_into_one_line_and_one_control_shows_everything(anon: Page) -> None:
    """By default each process shows its lesson mappings large and one program line."""
    anon.open(17)
    procs = anon.css(".proc")
    assert [p.text.split()[0] for p in procs] == ["Parent", "Child"]
    for proc in procs:
        assert len(anon.css(".vma", proc)) == 1
        assert len(anon.css(".vma.lesson.shared-anon", proc)) == 1
        fold = anon.css(".fold", proc)[0]
        assert fold.text.startswith("program: ")
        assert fold.text.endswith("— 6 mappings")
    button = anon.driver.find_element("id", "everything")
    button.click()
    assert button.get_attribute("aria-pressed") == "true"
    for proc in anon.css(".proc"):
        assert len(anon.css(".vma", proc)) == 7
        assert len(anon.css(".vma.program", proc)) == 6
        assert not anon.css(".fold", proc)
    button.click()
    assert len(anon.css(".vma", anon.proc("Parent"))) == 1


def test_both_private_copies_show_their_bytes_after_copy_on_write(anon: Page) -> None:
    """After fork the page is copy-on-write; after the child's += 1 each copy shows its int."""
    anon.open(27)
    shared = anon.lesson_page("Parent", "private-anon")
    assert shared.get_attribute("data-state") == "cow"
    pfn = shared.get_attribute("data-pfn")
    assert anon.lesson_page("Child2", "private-anon").get_attribute("data-pfn") == pfn
    anon.at_line(28)
    parent = anon.lesson_page("Parent", "private-anon")
    child = anon.lesson_page("Child2", "private-anon")
    assert child.get_attribute("data-state") == "rw"
    assert child.get_attribute("data-pfn") != parent.get_attribute("data-pfn")
    theirs = anon.frame_row(parent.get_attribute("data-pfn"))
    mine = anon.frame_row(child.get_attribute("data-pfn"))
    assert anon.css(".int b", theirs)[0].text == "1"
    assert anon.css(".int b", mine)[0].text == "2"
    assert anon.css(".hrow .hx", theirs)[0].text.startswith("01000000")
    assert anon.css(".hrow .hx", mine)[0].text.startswith("02000000")
    assert "Child2" in anon.css(".users", mine)[0].text
    assert "copy-on-write" in anon.driver.find_element("id", "events").text
    anon.screenshot("anon_mmap_cow.png")


def test_a_private_copy_of_a_file_page_is_marked_against_the_page_cache(
    browser: Any, folder: Path
) -> None:
    """After pwrite changes the file, the private copy's frame names the cached page it
    was copied from and marks the bytes where the two now differ."""
    page = Page(browser, "surprises/private_write_stays.mmap", folder)
    page.open(20)
    copy = page.lesson_page("A", "private-file")
    row = page.frame_row(copy.get_attribute("data-pfn"))
    assert "a private copy of /tmp/config page 0" in page.css(".copy", row)[0].text
    marked = "".join(el.text for el in page.css(".tx .diff", row))
    assert marked == "debug1"
    assert "debug=1" in page.css(".tx", row)[0].text


def test_pages_show_their_frame_and_a_badge_ties_the_pages_of_one_frame(anon: Page) -> None:
    """Without hovering: the frame number is on the page, a badge ties the two processes'
    pages of the shared frame, and the frame lists both users."""
    anon.open(18)
    mine = anon.lesson_page("Parent", "shared-anon")
    theirs = anon.lesson_page("Child", "shared-anon")
    pfn = mine.get_attribute("data-pfn")
    assert theirs.get_attribute("data-pfn") == pfn
    assert anon.css(".pfn", mine)[0].text == f"{int(pfn):x}"
    tie = anon.css(".tie", mine)[0].text
    assert tie.startswith("↔")
    assert anon.css(".tie", theirs)[0].text == tie
    colour = mine.value_of_css_property("background-color")
    assert theirs.value_of_css_property("background-color") == colour
    row = anon.frame_row(pfn)
    assert anon.css(".tie", row)[0].text == tie
    users = anon.css(".users", row)[0].text
    assert "Parent" in users
    assert "Child" in users


def test_hovering_a_page_still_highlights_its_frame_everywhere(anon: Page) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    anon.open(18)
    cell = anon.lesson_page("Parent", "shared-anon")
    ActionChains(anon.driver).move_to_element(cell).perform()
    lit = anon.css(".hl")
    assert anon.lesson_page("Child", "shared-anon") in lit
    assert any(el.tag_name == "li" for el in lit)


@pytest.mark.parametrize(
    ("size", "present"),
    [(SMALL, False), (LARGE, False), (LARGE, True)],
    ids=["1024x768", "1920x1080", "1920x1080-presentation"],
)
def test_layout_fits_without_horizontal_scroll_and_the_lesson_is_in_view(
    anon: Page, size: tuple[int, int], present: bool
) -> None:
    """At 1024x768, and at 1920x1080 also in presentation mode: no horizontal scroll,
    and the lesson's mapping and its pages are on screen without scrolling."""
    anon.open(28, size)
    if present:
        anon.driver.find_element("id", "present").click()
        assert anon.js("return document.documentElement.classList.contains('present')")
        assert (
            float(anon.js("return parseFloat(getComputedStyle(document.documentElement).fontSize)"))
            > 18
        )
    assert anon.no_horizontal_scroll()
    for proc in ("Parent", "Child2"):
        box = anon.css(".vma.lesson.private-anon", anon.proc(proc))[0]
        top, bottom = anon.js(
            "const r = arguments[0].getBoundingClientRect(); return [r.top, r.bottom]", box
        )
        assert top >= 0
        assert bottom <= size[1]
    name = f"anon_mmap_{size[0]}x{size[1]}{'_presentation' if present else ''}.png"
    anon.screenshot(name)


def test_the_mapping_a_step_touches_is_brought_on_screen(anon: Page) -> None:
    """With three processes at 1024x768 the touched mapping is scrolled into view,
    and the bar then repeats the step's line."""
    anon.open(37)
    touched = anon.css("#procs .vma.touched")
    assert len(touched) == 1
    assert touched[0] in anon.css(".vma", anon.proc("Child3"))
    bottom = anon.js("return arguments[0].getBoundingClientRect().bottom", touched[0])
    assert bottom <= SMALL[1] + 1  # scrollIntoView aligns to the sub-pixel
    barline = anon.driver.find_element("id", "barline")
    anon.driver.execute_script("window.dispatchEvent(new Event('scroll'))")
    assert barline.is_displayed()
    assert "Child3: z.int[0] += 1" in barline.text


def test_the_step_list_follows_the_current_step(browser: Any, folder: Path) -> None:
    """Deep in a long scenario the current step is in view inside the step list."""
    lines = ["A: p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)"]
    lines += [f"A: p.int[{i}] = {i}" for i in range(80)]
    path = write_html(
        record(parse_text("\n".join(lines) + "\n", "long.mmap")), folder / "long.html"
    )
    set_viewport(browser, *SMALL)
    browser.get(path.as_uri() + "#step-70")
    inside = browser.execute_script(
        "const l = document.getElementById('steplist'), c = l.querySelector('li.current');"
        "return [c.offsetTop >= l.scrollTop,"
        " c.offsetTop + c.offsetHeight <= l.scrollTop + l.clientHeight, c.textContent]"
    )
    assert inside[:2] == [True, True]
    assert "p.int[68] = 68" in inside[2]


def test_a_long_run_replays_in_the_browser_to_the_machine_of_each_step(
    browser: Any, folder: Path
) -> None:
    """The page of 150 steps over 300 pages (memset, fork, stores) rebuilds, from its
    deltas, the very pages and frames the machine had after each step, stepping
    forward and jumping back."""
    wanted: dict[int, Any] = {}

    def keep(machine: Any, tracker: Tracker, names: dict[int, str]) -> None:
        step = len(wanted) + 1
        if step in (5, 6, 30, 77, 149, 150):
            pages = {
                str(pid): sorted(
                    [vpn, pfn, state] for vpn, (pfn, state) in tracker.pages[pid].items()
                )
                for pid in tracker.order
            }
            frames = [tracker.frames[pfn] for pfn in sorted(tracker.frames)]
            wanted[step] = {"order": list(tracker.order), "pages": pages, "frames": frames}
        else:
            wanted[step] = None

    recording = record(parse_text(big_scenario(150, 300), "long.mmap"), keep)
    path = write_html(recording, folder / "replay.html")
    set_viewport(browser, *SMALL)
    browser.get(path.as_uri())
    for step in (5, 6, 30, 77, 149, 150, 77, 6):
        browser.execute_script(f"MM.page.draw({step})")
        got = browser.execute_script(f"return MM.page.summary({step})")
        del got["files"]
        assert got == wanted[step], step
    assert int(browser.execute_script("return document.body.dataset.step")) == 6
    assert len(recording.steps) == 150


def test_maps_lines_are_monospace_and_never_wrap(browser: Any, folder: Path) -> None:
    """``show maps`` lines keep one line each, in a monospace font."""
    page = Page(browser, "lecture/02_location_of_mappings.mmap", folder)
    recording = record_file(str(ROOT / "examples" / "lecture" / "02_location_of_mappings.mmap"))
    step = next(i + 1 for i, s in enumerate(recording.steps) if s.source.startswith("show maps"))
    set_viewport(browser, *SMALL)
    browser.get(page.path.as_uri() + f"#step-{step}")
    rows = page.css("#result li")
    assert len(rows) > 3
    for li in rows[:4]:
        assert li.value_of_css_property("white-space") == "pre"
        assert "mono" in li.value_of_css_property("font-family").lower()
        height = float(li.value_of_css_property("height").removesuffix("px"))
        assert height < 2 * float(li.value_of_css_property("line-height").removesuffix("px"))
    assert page.no_horizontal_scroll()


def test_msync_the_differing_bytes_are_marked_then_clean(browser: Any, folder: Path) -> None:
    """The store leaves the cached page dirty, its new bytes marked against the disk;
    MS_SYNC cleans it and the marks go."""
    page = Page(browser, "lecture/07_msync.mmap", folder)
    page.open(20)
    journal = page.css('.file[data-path="/tmp/journal"]')[0]
    cached = page.css(".side.cached", journal)[0]
    assert cached.get_attribute("data-dirty") == "true"
    marked = "".join(el.text for el in page.css(".side.cached .tx .diff", journal))
    assert marked == "booted"
    assert "......" in page.css(".side.disk .tx", journal)[0].text
    page.screenshot("msync_dirty.png")
    page.driver.find_element("tag name", "body").send_keys("\ue014")  # the right arrow
    page.at_line(26)
    journal = page.css('.file[data-path="/tmp/journal"]')[0]
    assert page.css(".side.cached", journal)[0].get_attribute("data-dirty") == "false"
    assert not page.css(".diff", journal)
    assert "booted" in page.css(".side.disk .tx", journal)[0].text
    assert "writeback" in page.driver.find_element("id", "events").text


def test_keys_and_fragment_move_between_steps(anon: Page) -> None:
    anon.open()
    body = anon.driver.find_element("tag name", "body")
    body.send_keys("\ue014")
    body.send_keys("\ue014")
    assert anon.step == 2
    body.send_keys("\ue012")
    assert anon.step == 1
    assert anon.driver.current_url.endswith("#step-1")


def test_the_tour_index_lists_the_slides_and_pages_link_in_order(
    browser: Any, folder: Path
) -> None:
    """index.html lists the eight slides in order; each page links to its neighbours."""
    tour = folder / "tour"
    write_tour_pages(str(tour))
    browser.get((tour / "index.html").as_uri())
    links = [
        a.get_attribute("href").rsplit("/", 1)[1]
        for a in browser.find_elements("css selector", "#slides a")
    ]
    assert links == sorted(p.name for p in tour.glob("0*.html"))
    browser.find_element("css selector", "#slides a").click()
    assert browser.current_url.split("#")[0].endswith(links[0])
    assert not browser.find_elements("css selector", "#tour a[rel=prev]")
    browser.find_element("css selector", "#tour a[rel=next]").click()
    assert browser.current_url.split("#")[0].endswith(links[1])
    browser.find_element("css selector", "#tour a[rel=prev]").click()
    assert browser.current_url.split("#")[0].endswith(links[0])
    browser.find_element("css selector", "#tour a[rel=index]").click()
    assert browser.current_url.endswith("index.html")


def _axe(driver: Any) -> list[dict[str, Any]]:
    """The WCAG 2 A/AA violations axe-core finds on the current page."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    assert driver.execute_script("return axe.version") == AXE_VERSION
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})"
        ".then((r) => done(JSON.stringify(r.violations)),"
        " (e) => done(JSON.stringify([{id: String(e)}])));"
    )
    return list(json.loads(result))


def test_the_page_passes_the_accessibility_check(anon: Page, folder: Path) -> None:
    """axe-core finds no WCAG 2 AA violation (contrast included) on a page, in both
    modes, nor on the tour's index."""
    anon.open(28)
    found = _axe(anon.driver)
    assert [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in found] == []
    anon.driver.find_element("id", "everything").click()
    anon.driver.find_element("id", "present").click()
    found = _axe(anon.driver)
    assert [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in found] == []
    write_tour_pages(str(folder / "tour-a11y"), only=3)
    anon.driver.get((folder / "tour-a11y" / "index.html").as_uri())
    assert _axe(anon.driver) == []


def test_screenshot_of_a_shared_file_mapping(browser: Any, folder: Path) -> None:
    """Two unrelated processes map one page-cache frame; the picture is saved for the docs."""
    page = Page(browser, "lecture/03_shared_file_mapping.mmap", folder)
    page.open(27, LARGE)
    assert len(page.css(".vma.shared-file")) == 2
    ties = {el.text for el in page.css(".vma.shared-file .tie")}
    assert len(ties) == 1
    page.screenshot("shared_file_mapping.png")
