"""Browser tests: the app on this test's database, served by werkzeug in a thread on
127.0.0.1 (a random port), driven by Debian's headless Chromium through Selenium and
Debian's chromedriver.

Nothing is downloaded: the driver is given by path (Selenium Manager is never asked, and
would fail the test if it were), the browser runs with its background networking off,
and every request the pages make is checked to go to the app's own address. Console
errors fail the test. Screenshots go to ``artifacts/screenshots/`` (gitignored).

Without Chromium the tests skip with the reason, except under ``CI=true``, where they
fail: ``apt-get install -y chromium chromium-driver`` and ``pip install selenium``.
"""
from __future__ import annotations

import base64
import json
import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from core.testing import missing

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PASSWORD = "Test@2024pw"
# Requests that never leave the machine: the browser's own pages and inline data.
LOCAL_SCHEMES = {"data", "blob", "about", "chrome", "chrome-extension", "devtools",
                 "chrome-untrusted"}
ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-quic", "--no-first-run", "--no-default-browser-check",
        "--disable-features=Translate,MediaRouter,OptimizationHints",
        "--window-size=1400,1000", "--lang=zh-CN", "--force-device-scale-factor=1")


def _missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} missing: apt-get install -y chromium chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium missing: pip install selenium"
    return None


@pytest.fixture(scope="session")
def browser_tools() -> None:
    problem = _missing()
    if problem:
        missing(f"browser tests cannot run: {problem}")


@pytest.fixture(scope="session")
def driver(browser_tools, tmp_path_factory):
    """One Chromium for the session (each test clears its cookies)."""
    os.environ.setdefault("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    def refuse(self, args):  # the driver is given by path: never look one up
        raise AssertionError(f"Selenium Manager was asked for a driver: {args}")

    original = SeleniumManager.binary_paths
    SeleniumManager.binary_paths = refuse
    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False,
        "intl.accept_languages": "zh-CN,zh"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    try:
        chrome = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    finally:
        SeleniumManager.binary_paths = original
    chrome.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})
    chrome.downloads = downloads
    yield chrome
    chrome.quit()


@pytest.fixture
def app(app_factory):
    """The suite's app, letting the browser keep static files between pages."""
    return app_factory(SEND_FILE_MAX_AGE_DEFAULT=3600)


@pytest.fixture
def serve():
    """Serve an app on 127.0.0.1 in a thread: ``base_url = serve(app)``."""
    from werkzeug.serving import make_server

    servers = []

    def start(app) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class Browser:
    """The session's Chromium pointed at one served app, with the checks every test
    makes: no console error, no request to another host, screenshots kept."""

    def __init__(self, driver, base_url: str, name: str):
        self.driver = driver
        self.base = base_url
        self.name = name
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.shots = 0
        driver.delete_all_cookies()
        self.drain()

    # --- navigation -----------------------------------------------------------------
    def get(self, path: str) -> None:
        self.driver.get(self.base + path)

    @property
    def path(self) -> str:
        parts = urlsplit(self.driver.current_url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def login(self, username: str) -> None:
        from selenium.webdriver.common.by import By

        self.get("/login/")
        self.driver.delete_all_cookies()  # whoever was logged in on this host before
        self.get("/login/")
        self.driver.find_element(By.NAME, "username").send_keys(username)
        self.driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        self.driver.find_element(By.CSS_SELECTOR, "form [type=submit]").click()
        self.wait(lambda d: "/login" not in d.current_url)

    def wait(self, condition, timeout: float = 10):
        """Poll until `condition` holds; an element lost to a page (re)load mid-check
        just means "not yet", so the condition is tried again."""
        from selenium.common.exceptions import (
            NoSuchElementException,
            StaleElementReferenceException,
        )
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout, ignored_exceptions=(
            NoSuchElementException, StaleElementReferenceException)).until(condition)

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def menu_text(self) -> str:
        return self.js("return document.querySelector('.navbar').innerText")

    # --- evidence -------------------------------------------------------------------
    def screenshot(self, step: str) -> Path:
        """The whole page, not only the window."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        path = ARTIFACTS / f"{self.name}-{self.shots:02d}-{step}.png"
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                     "scale": 1}})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def drain(self) -> None:
        """Collect the browser's console and network logs so far."""
        for entry in self.driver.get_log("browser"):
            if entry["level"] == "SEVERE" and "/favicon.ico" not in entry["message"]:
                self.errors.append(entry["message"])
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                self.requests.append(message["params"]["request"]["url"])

    def check_clean(self) -> None:
        self.drain()
        own = urlsplit(self.base).netloc
        foreign = sorted({u for u in self.requests
                          if urlsplit(u).scheme not in LOCAL_SCHEMES
                          and urlsplit(u).netloc != own})
        assert not foreign, f"requests to other hosts: {foreign}"
        assert not self.errors, "console errors:\n" + "\n".join(self.errors)
        assert any(urlsplit(u).netloc == own for u in self.requests)


@pytest.fixture
def browser(driver, serve, request):
    """``open_app(app) -> Browser`` for this test; its checks run at the end."""
    opened: list[Browser] = []

    def open_app(app) -> Browser:
        b = Browser(driver, serve(app), request.node.name.replace("/", "_"))
        opened.append(b)
        return b

    yield open_app
    for b in opened:
        b.check_clean()
