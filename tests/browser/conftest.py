"""Browser tests: the app on this test's database, served by werkzeug in a thread on
127.0.0.1 (a random port), driven by Debian's headless Chromium through Selenium and
Debian's chromedriver.

Nothing is downloaded: the driver is given by path (Selenium Manager is never asked, and
would fail the test if it were), the browser runs with its background networking off,
and every request the pages make is checked to go to the app's own address. Console
errors fail the test. Screenshots go to ``artifacts/screenshots/`` (gitignored).

Without Chromium the tests skip with the reason, except under ``CI=true``, where they
fail: ``apt-get install -y chromium chromium-driver`` and ``pip install selenium``.

A busy machine must not fail them (issue #23): every wait lasts ``patience(seconds)``
and says what it waited for; an action (a click, typing) is retried inside its wait when
the element was replaced under it; a lookup box is picked from only once the server's
answer for what was typed is in and its list has stopped changing.
"""
from __future__ import annotations

import base64
import inspect
import json
import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from core.testing import TIMEOUT_FACTOR, missing, patience

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
# Records the URL of every jQuery request a page completes, once per page: a lookup box's
# answer is known to be in when its request (with the typed term) is the last completed.
RECORD_XHR = """
if (!window.raXhrDone) {
  window.raXhrDone = [];
  jQuery(document).on('ajaxComplete', (e, xhr, s) => window.raXhrDone.push(s.url));
}
"""
# The options of the open lookup box once nothing is in flight and the last request
# answered was for ``typed``; null while the answer is still coming.
LOOKUP_ANSWER = """
const typed = arguments[0], done = window.raXhrDone || [];
const last = done[done.length - 1];
if (jQuery.active !== 0 || !last) return null;
const term = /[?&]term=([^&]*)/.exec(last);
if (!term || decodeURIComponent(term[1].replace(/\\+/g, ' ')) !== typed) return null;
const list = document.querySelector('.select2-container--open .select2-results__options');
if (!list || list.querySelector('.loading-results')) return null;
return Array.from(list.querySelectorAll('.select2-results__option'),
                  o => o.textContent.trim());
"""


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
    chrome.set_page_load_timeout(patience(120))
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


def _source(function) -> str:
    try:
        return inspect.getsource(function).strip()
    except (OSError, TypeError):
        return repr(function)


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
        self.click("form [type=submit]")
        self.wait(lambda d: "/login" not in d.current_url, waiting_for=f"{username} to log in")

    def wait(self, condition, timeout: float = 30, waiting_for=None):
        """Poll until `condition` holds, for ``patience(timeout)``; an element lost to a
        page (re)load or a redrawn widget mid-check, or not yet clickable, just means
        "not yet", so the condition is tried again. Giving up names what was awaited
        (``waiting_for``, a text or a function giving one, else the condition's source)
        and the page."""
        from selenium.common.exceptions import (
            ElementClickInterceptedException,
            ElementNotInteractableException,
            NoSuchElementException,
            StaleElementReferenceException,
            TimeoutException,
        )
        from selenium.webdriver.support.ui import WebDriverWait

        limit = patience(timeout)
        try:
            return WebDriverWait(self.driver, limit, ignored_exceptions=(
                NoSuchElementException, StaleElementReferenceException,
                ElementClickInterceptedException, ElementNotInteractableException,
            )).until(condition)
        except TimeoutException:
            awaited = waiting_for() if callable(waiting_for) else waiting_for
            pytest.fail(f"gave up after {limit:.0f} s waiting for "
                        f"{awaited or _source(condition)} on {self.path} "
                        f"(RETIREE_ADMIN_TEST_TIMEOUT_FACTOR={TIMEOUT_FACTOR:g})")

    def act(self, locate, action=None, waiting_for: str | None = None):
        """Find an element and act on it (click by default) inside one retrying wait:
        an element replaced between being found and being acted on — a list redrawn by
        a lookup's answer, a page reloading — is found again and the action retried,
        as `wait` does for reads. Returns the element."""

        def attempt(d):
            element = locate(d)
            if element is None or not element.is_displayed():
                return None
            (action or (lambda e: e.click()))(element)
            return element

        return self.wait(attempt, waiting_for=waiting_for or _source(locate))

    def click(self, css: str) -> None:
        from selenium.webdriver.common.by import By

        self.act(lambda d: d.find_element(By.CSS_SELECTOR, css),
                 waiting_for=f"{css} to take a click")

    def choose_lookup(self, field: str, typed: str, wanted: str) -> None:
        """Pick ``wanted`` in the lookup box of ``field`` (Select2 asking the server as
        one types): open it, type, wait until the answer for ``typed`` is in and the
        option list is the same on two looks in a row, then click the option, found
        afresh on each try."""
        from selenium.webdriver.common.by import By

        self.js(RECORD_XHR)
        self.click(f"#{field} + .select2 .select2-selection")
        self.act(lambda d: d.find_element(
            By.CSS_SELECTOR, ".select2-container--open .select2-search__field"),
            lambda e: e.send_keys(typed), waiting_for=f"the search box of {field} to open")
        looks: list = []

        def settled(d):
            looks.append(self.js(LOOKUP_ANSWER, typed))
            return looks[-1] is not None and looks[-2:] == [looks[-1]] * 2 \
                and wanted in looks[-1]

        self.wait(settled, waiting_for=lambda: f"the lookup of {field} to answer “{typed}” "
                                               f"with “{wanted}” (last seen: {looks[-1:]})")
        self.act(lambda d: next((o for o in d.find_elements(
            By.CSS_SELECTOR, ".select2-container--open .select2-results__option")
            if o.text.strip() == wanted), None), waiting_for=f"the option “{wanted}”")
        self.wait(lambda d: d.execute_script(f"return jQuery('#{field}').val()")
                  not in (None, ""), waiting_for=f"{field} to hold the chosen option")

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
