"""Debian's headless Chromium, driven with Playwright over the DevTools protocol.

Playwright's own ``launch()`` turns DevTools focus emulation on for every page, which keeps
``document.visibilityState`` at "visible" whatever happens to the window. So Chromium is started here as a
plain process and Playwright attaches with ``connect_over_cdp(no_defaults=True)``: then minimizing the
window (``Browser.setWindowBounds``) really hides the page and fires ``visibilitychange``, as in a desktop
browser. Playwright never downloads a browser here.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,800",
)


class ChromiumMissing(RuntimeError):
    pass


def desktop_user_agent() -> str:
    """A desktop Chrome user agent of the installed version: the default one says "HeadlessChrome", which
    the stream stage treats as a bot."""
    if not CHROMIUM.exists():
        raise ChromiumMissing(
            f"the browser tests need Debian's Chromium at {CHROMIUM}: run `make browser` as root "
            "(apt-get install chromium)"
        )
    out = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True, check=True).stdout
    major = re.search(r"Chromium (\d+)\.", out)
    version = f"{major.group(1)}.0.0.0" if major else "130.0.0.0"
    return f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version} Safari/537.36"


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A fresh Chromium (own profile: empty storage and cookies) with Playwright attached."""
    user_agent = desktop_user_agent()
    profile = Path(tempfile.mkdtemp(prefix="tm-chromium-"))
    process = subprocess.Popen(
        [str(CHROMIUM), *ARGS, f"--user-agent={user_agent}", f"--user-data-dir={profile}",
         "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port = await _devtools_port(profile, process)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.connect_over_cdp(f"http://127.0.0.1:{port}", no_defaults=True)
            try:
                yield browser
            finally:
                await browser.close()
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        shutil.rmtree(profile, ignore_errors=True)


async def _devtools_port(profile: Path, process: subprocess.Popen, timeout: float = 30.0) -> int:
    """Chromium writes the port it chose to DevToolsActivePort in its profile."""
    port_file = profile / "DevToolsActivePort"
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with status {process.returncode}")
        if port_file.exists():
            first = port_file.read_text().split("\n", 1)[0].strip()
            if first.isdigit():
                return int(first)
        await asyncio.sleep(0.05)
    raise TimeoutError(f"chromium did not open its DevTools port within {timeout}s")


async def first_page(browser: Browser) -> Page:
    context = browser.contexts[0]
    return context.pages[0] if context.pages else await context.new_page()


async def set_window_state(page: Page, state: str) -> None:
    """``minimized`` hides the page (visibilitychange to hidden), ``normal`` shows it again."""
    cdp = await page.context.new_cdp_session(page)
    try:
        window = await cdp.send("Browser.getWindowForTarget")
        await cdp.send("Browser.setWindowBounds", {"windowId": window["windowId"], "bounds": {"windowState": state}})
    finally:
        await cdp.detach()


async def wait_visibility(page: Page, state: str, timeout: float = 10.0) -> None:
    # Polled from here: requestAnimationFrame, Playwright's default polling, does not run in a hidden page.
    deadline = asyncio.get_running_loop().time() + timeout
    while await page.evaluate("document.visibilityState") != state:
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"page did not become {state} within {timeout}s")
        await asyncio.sleep(0.02)
