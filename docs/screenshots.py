"""Make the README's screenshots: ``python docs/screenshots.py``.

A fresh SQLite database in a temporary folder gets ``retiree-admin init`` and a small,
seeded (so repeatable) ``retiree-admin demo``; the app is served by werkzeug in a thread
on a free port of 127.0.0.1 and driven by Debian's headless Chromium through Selenium
and Debian's chromedriver, as the browser tests do (nothing is downloaded: the driver is
given by path, Selenium Manager is never asked). At a 1366×900 window, logged in as the
demo district clerk, it saves into ``docs/``:

- ``screen-roster.png``: the retiree roster;
- ``screen-person.png``: one person's page;
- ``screen-registration-pdf.png``: page 1 of that person's registration form
  (``/retiree/print/<id>``, fetched with the browser's session cookies, rendered with
  ``pdftoppm``);
- ``screen-dashboard.png``: the dashboard once every chart is drawn.

Each PNG is kept under 300 KB by reducing it to a 256-colour palette with Pillow.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WIDTH, HEIGHT = 1366, 900
RETIREES, SEED = 300, 1
USERNAME = "district"  # the demo district clerk (README, "Quick start")
PASSWORD = "Demo@2024pw"
MAX_BYTES = 300 * 1024
SHOTS = ("screen-roster.png", "screen-person.png", "screen-registration-pdf.png",
         "screen-dashboard.png")
ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-quic", "--no-first-run", "--no-default-browser-check",
        "--disable-features=Translate,MediaRouter,OptimizationHints",
        f"--window-size={WIDTH},{HEIGHT}", "--lang=zh-CN", "--force-device-scale-factor=1",
        "--hide-scrollbars")
ALL_CHARTS_DRAWN = """
const boxes = Array.from(document.querySelectorAll('.ra-chart'));
return window.raDashboard !== undefined && boxes.length > 0 &&
       boxes.every(b => b.querySelector('canvas') || b.querySelector('svg'));
"""
WAIT_SECONDS = 120


def environment(folder: Path) -> dict[str, str]:
    """The environment that points the CLI and the app at the temporary database."""
    env = dict(os.environ)
    env["DATABASE_URL"] = f"sqlite:///{folder / 'screens.db'}"
    env["RETIREE_ADMIN_INSTANCE_PATH"] = str(folder)
    return env


def build_database(folder: Path) -> None:
    """``retiree-admin init`` and ``retiree-admin demo`` on a new SQLite file."""
    cli = shutil.which("retiree-admin") or str(Path(sys.executable).with_name("retiree-admin"))
    env = environment(folder)
    for args in (["init"], ["demo", "--retirees", str(RETIREES), "--seed", str(SEED)]):
        subprocess.run([cli, *args], env=env, check=True, stdout=subprocess.DEVNULL)


def quiet_handler():
    """werkzeug's request handler without the access log line per request."""
    from werkzeug.serving import WSGIRequestHandler

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs) -> None:
            pass

    return Quiet


def serve(folder: Path):
    """Serve the app on the temporary database in a thread; returns (server, base URL)."""
    os.environ.update(environment(folder))
    from werkzeug.serving import make_server

    from core.app import create_app

    app = create_app()
    app.config["DEMO_MODE"] = True
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=quiet_handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def start_chromium(profile: Path):
    """Headless Chromium by path, with the browser tests' options."""
    os.environ.setdefault("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    return driver


def wait(driver, condition, what: str):
    from selenium.common.exceptions import NoSuchElementException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, WAIT_SECONDS, ignored_exceptions=(
            NoSuchElementException,)).until(condition)
    except TimeoutException:
        raise SystemExit(f"gave up waiting for {what} on {driver.current_url}") from None


def login(driver, base: str, username: str = USERNAME) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + "/login/")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form [type=submit]").click()
    wait(driver, lambda d: "/login" not in d.current_url, f"{username} to log in")


def shrink(png: bytes, limit: int = MAX_BYTES) -> bytes:
    """The PNG as is when under ``limit``, else reduced to a 256-colour palette (and, if
    still too big, scaled down step by step)."""
    if len(png) < limit:
        return png
    from PIL import Image

    image = Image.open(BytesIO(png)).convert("RGB")
    scale = 1.0
    while True:
        size = (round(image.width * scale), round(image.height * scale))
        out = BytesIO()
        image.resize(size, Image.LANCZOS).quantize(colors=256).save(out, "PNG", optimize=True)
        if out.tell() < limit or scale < 0.3:
            return out.getvalue()
        scale *= 0.85


def save(name: str, png: bytes) -> Path:
    path = DOCS / name
    path.write_bytes(shrink(png))
    return path


def pdf_first_page(pdf: bytes, folder: Path) -> bytes:
    """Page 1 of a PDF as PNG, at 80 dpi, by ``pdftoppm``."""
    source = folder / "form.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile",
                    str(source), str(folder / "form")], check=True)
    return (folder / "form.png").read_bytes()


def fetch_with_session(driver, url: str) -> bytes:
    """GET ``url`` with the browser's cookies (the logged-in session)."""
    from urllib.request import Request, urlopen

    cookie = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    with urlopen(Request(url, headers={"Cookie": cookie}), timeout=WAIT_SECONDS) as answer:
        body = answer.read()
        kind = answer.headers.get("Content-Type")
    if not body.startswith(b"%PDF"):
        raise SystemExit(f"{url} did not answer a PDF ({kind})")
    return body


def settle(driver) -> None:
    """Let fonts and late layout finish before a screenshot."""
    wait(driver, lambda d: d.execute_script("return document.readyState") == "complete",
         "the page to load")
    driver.execute_script("return document.fonts && document.fonts.ready")
    time.sleep(1)


def take(driver, base: str, folder: Path) -> list[Path]:
    from selenium.webdriver.common.by import By

    login(driver, base)
    saved = []
    driver.get(base + "/retiree/list/")
    settle(driver)
    saved.append(save(SHOTS[0], driver.get_screenshot_as_png()))

    link = wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "a[href*='/retiree/show/']"),
                "a link to a person's page")
    href = link.get_attribute("href")
    pk = int(href.split("/retiree/show/")[1].split("?")[0].strip("/"))
    driver.get(base + f"/retiree/show/{pk}")
    settle(driver)
    saved.append(save(SHOTS[1], driver.get_screenshot_as_png()))

    pdf = fetch_with_session(driver, base + f"/retiree/print/{pk}")
    saved.append(save(SHOTS[2], pdf_first_page(pdf, folder)))

    driver.get(base + "/dashboard/")
    wait(driver, lambda d: d.execute_script(ALL_CHARTS_DRAWN), "every chart to be drawn")
    time.sleep(2)  # ECharts' entry animation
    saved.append(save(SHOTS[3], driver.get_screenshot_as_png()))
    return saved


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ra-screens-") as tmp:
        folder = Path(tmp)
        build_database(folder)
        server, base = serve(folder)
        driver = start_chromium(folder / "chromium-profile")
        try:
            for path in take(driver, base, folder):
                print(f"{path.relative_to(ROOT)}  {path.stat().st_size // 1024} KB")
        finally:
            driver.quit()
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    main()
