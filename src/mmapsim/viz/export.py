"""Images and a printable handout of a step-through page, made by headless Chromium.

The same browser the tests use: Debian's ``chromium`` driven by Selenium
through ``chromedriver``, with the flags below (no sandbox, no network of its
own, no first-run work).  ``--png DIR`` writes one image per step, in the
presentation mode at 1920 pixels wide and as tall as the step's picture;
``--pdf FILE`` prints every step one after another (its line, its picture and
its events) on landscape A4 pages.  When the browser or Selenium is missing,
:class:`NoBrowser` says what to install.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: The flags of every headless Chromium this project starts.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
INSTALL = "apt-get install chromium chromium-driver; pip install 'mmapsim[export]'"


class NoBrowser(RuntimeError):
    """Chromium, chromedriver or Selenium is not installed."""


def chromium_paths() -> tuple[str, str]:
    """The paths of chromium and chromedriver; NoBrowser when one is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        missing = "chromium" if chromium is None else "chromedriver"
        raise NoBrowser(f"{missing} is not installed; the exports need it ({INSTALL})")
    return chromium, driver


@contextmanager
def browser(width: int = 1280, height: int = 800) -> Iterator[Any]:
    """A headless Chromium with a ``width`` x ``height`` viewport, closed afterwards."""
    chromium, driver_path = chromium_paths()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as err:
        raise NoBrowser(f"selenium is not installed; the exports need it ({INSTALL})") from err
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        set_viewport(driver, width, height)
        yield driver
    finally:
        driver.quit()


def set_viewport(driver: Any, width: int, height: int) -> None:
    """Make the page's viewport exactly ``width`` x ``height`` CSS pixels."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def _capture(driver: Any, width: int, height: int) -> bytes:
    """A PNG of the whole page (not just the viewport)."""
    full = int(driver.execute_script("return document.documentElement.scrollHeight"))
    set_viewport(driver, width, max(height, full))
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    set_viewport(driver, width, height)
    return base64.b64decode(shot["data"])


def export_png(page: Path, folder: Path, width: int = 1920, height: int = 1080) -> list[Path]:
    """One PNG per step of the page at ``page``, in presentation mode; the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with browser(width, height) as driver:
        driver.get(page.resolve().as_uri())
        steps = int(driver.execute_script("MM.page.setPresent(true); return MM.page.steps"))
        for step in range(steps + 1):
            driver.execute_script(f"MM.page.draw({step})")
            path = folder / f"step-{step:03d}.png"
            path.write_bytes(_capture(driver, width, height))
            written.append(path)
    return written


def export_pdf(page: Path, out: Path) -> Path:
    """A printable handout of the page at ``page``: every step, on landscape A4."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with browser(1280, 800) as driver:
        driver.get(page.resolve().as_uri())
        driver.execute_script("MM.page.handout()")
        pdf = driver.execute_cdp_cmd(
            "Page.printToPDF",
            {
                "landscape": True,
                "printBackground": True,
                "paperWidth": 8.27,
                "paperHeight": 11.69,
                "scale": 0.8,
                "marginTop": 0.3,
                "marginBottom": 0.3,
                "marginLeft": 0.3,
                "marginRight": 0.3,
            },
        )
    out.write_bytes(base64.b64decode(pdf["data"]))
    return out
