"""Issue 14 "Done when": a crawler logs in as each role and walks the app as a clerk would.

For each role's user it opens the home page, the roster, a person page and every menu
entry (each plugin's screens are in the menu), then follows every same-site GET link up
to depth 3. Links with side effects are never followed (logout, delete, actions, the
language switch; forms are never submitted); downloads (PDF, Excel) are requested with
the browser's session and must answer 200 with a body. Pages are deduplicated by path
pattern (ids replaced), so a role takes a few minutes.

A page fails on: an HTTP error status; visible ``None``/``True``/``False``/``__None``; a
Python repr; a microsecond timestamp; an internal code of the coded fields
(core.registry.fields); a rule ID in brackets; an English word outside ``ALLOWED``.
Every failure of a role is collected, with a screenshot of the page, and reported at once.
"""
from __future__ import annotations

import base64
import re
import urllib.error
import urllib.request
from collections import deque
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest

from core.registry import fields
from core.testing import PASSWORD, USERS

# Role: the user that plays it (core.testing.USERS, plus the MLPS administrators made here).
ROLES = {"community": "c_cl11", "street": "s_cl1", "district": "d_cl", "city": "city",
         "supervisor": "sup", "admin": "admin", "seccity": "seccity",
         "auditcity": "auditcity", "park": "d_yq"}
EXTRA_USERS = {"seccity": ("security_admin", "320500"), "auditcity": ("audit_admin", "320500"),
               "d_yq": ("district_admin", "320571")}
MAX_DEPTH = 3
MAX_PAGES = 150
# English a Chinese clerk meets on purpose: file kinds, the ID of an ID card, units.
ALLOWED = {"ID", "PDF", "Excel", "API", "CSV", "PNG", "XLSX", "xlsx", "pdf", "png", "JSON",
           "TOTP", "OK", "IP", "QR", "HTTP", "URL", "MB", "KB", "GB", "Google", "Authenticator"}
# Data of the test database, not words of the interface: login names (the suite's users
# are named by them) and the actors recorded by the fixtures.
DATA_WORDS = {*USERS, *ROLES.values(), "demo", "test", "system"}
SKIP = re.compile(r"/logout|^/back$|/delete|/action(_post)?/|/lang/|/muldelete|/undo|/reset|"
                  r"/unmask|/switch|/enable|/disable|/accept|/approve|/reject|/revoke")
DOWNLOAD = re.compile(r"\.(pdf|xlsx|csv|png)(\?|$)|/(pdf|xlsx|export|download|print|"
                      r"template|receipt|report_pdf)(/|\?|$)")
CODES = sorted({code for table in (fields.GENDER, fields.RETIREMENT_TYPE, fields.BENEFIT,
                                   fields.CATEGORY, fields.RESIDENCE_TYPE,
                                   fields.FAMILY_STATUS, fields.SERIOUS_ILLNESS,
                                   fields.MANAGEMENT_STATE, fields.POLITICAL_STATUS,
                                   fields.ENTERPRISE_STATUS)
                for code in table if "_" in code or len(code) > 4}, key=len, reverse=True)
ASCII_WORD = r"(?<![A-Za-z0-9_.@/-]){}(?![A-Za-z0-9_@/-])"
CHECKS = [
    ("None/True/False", re.compile(ASCII_WORD.format("(None|True|False)"))),
    ("__None", re.compile(r"__None")),
    ("Python repr", re.compile(r"<[^<>]* object at 0x[0-9a-f]+>")),
    ("microsecond timestamp", re.compile(r"\d\d:\d\d:\d\d\.\d+")),
    ("internal code", re.compile(ASCII_WORD.format("(" + "|".join(CODES) + ")"))),
    ("rule ID", re.compile(r"[（(][FAPSH]\d+[）)、,，]")),
]
# Addresses, paths, file names and e-mail addresses are data, not words of the interface.
NOT_WORDS = re.compile(r"\S+@\S+|(https?|otpauth)://\S+|(?<![\w/])/[\w/.-]+|[\w.-]+\.(xlsx|pdf|png|csv|ico)\b|"
                       r"\b[A-Z2-7]{16,}\b")
# A word, or a code of words joined by underscores (community_staff).
ENGLISH = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z_]*[A-Za-z](?![A-Za-z0-9_])")
PAGE = """
const nav = performance.getEntriesByType('navigation')[0];
const links = Array.from(document.querySelectorAll('a[href]'), a => a.getAttribute('href'));
return {status: nav ? nav.responseStatus : 0, text: document.body.innerText,
        title: document.title, links: links};
"""


@pytest.fixture
def world(app):
    """The suite's users and the MLPS administrators, 40 varied people, every plugin on
    where it applies, a Park agreement, a fee payment and an instalment application."""
    from core.commands import create_user
    from core.extensions import db
    from core.regions import region_by_code
    from tests.dashboard.data import seed_retirees

    seed_retirees(app, n=40)
    manager = app.extensions["retiree_admin.plugins"]
    with app.app_context():
        for username, (role, code) in EXTRA_USERS.items():
            create_user(username, PASSWORD, role, code, name=f"测试{username}", temporary=False)
        for plugin, code in (("fees", "320500"), ("city_agreement", "320500"),
                             ("industrial_park", "320571"),
                             ("wuzhong_xiangcheng", "320506")):
            if plugin in manager.plugins:
                manager.set_enabled(db.session, plugin, region_by_code(db.session, code),
                                    True, "test")
        db.session.commit()
    return app


def pattern(url: str) -> str:
    """The page kind a URL stands for: ids become ``N``, query values are dropped except
    the filter and tab names (one page per list, per show page, per tab)."""
    parts = urlsplit(url)
    path = re.sub(r"/\d+(?=/|$)", "/N", parts.path)
    keys = sorted({re.sub(r"\d+", "N", k) for k, _ in parse_qsl(parts.query)
                   if not k.startswith(("page", "psize", "_od", "_oc", "next"))})
    return path + ("?" + "&".join(keys) if keys else "")


def problems(text: str) -> list[str]:
    found = []
    for name, regex in CHECKS:
        for match in regex.finditer(text):
            start = max(0, match.start() - 30)
            found.append(f"{name}: …{text[start:match.end() + 30]!r}…")
    words = sorted({w for w in ENGLISH.findall(NOT_WORDS.sub(" ", text))
                    if w not in ALLOWED and w not in DATA_WORDS})
    if words:
        found.append(f"English words: {words}")
    return found


class Crawl:
    def __init__(self, b, role: str, shots):
        self.b, self.role, self.shots = b, role, shots
        self.seen: set[str] = set()
        self.failures: list[str] = []
        self.pages = 0

    def fail(self, url: str, message: str, shoot: bool = True) -> None:
        if shoot:
            path = self.shots / f"{self.role}-{len(self.failures):03d}.png"
            size = self.b.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
            shot = self.b.driver.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                         "scale": 1}})
            path.write_bytes(base64.b64decode(shot["data"]))
            message += f" [screenshot {path}]"
        self.failures.append(f"{url}: {message}")

    def download(self, url: str) -> None:
        cookies = "; ".join(f"{c['name']}={c['value']}" for c in self.b.driver.get_cookies())
        request = urllib.request.Request(self.b.base + url, headers={"Cookie": cookies})
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                body = answer.read()
                if not body:
                    self.fail(url, "download is empty", shoot=False)
        except urllib.error.HTTPError as exc:
            self.fail(url, f"download: HTTP {exc.code}", shoot=False)

    def visit(self, url: str) -> list[str]:
        self.pages += 1
        self.b.get(url)
        page = self.b.js(PAGE)
        status = page["status"]
        # The page's own error status is judged here, not as a console error.
        self.b.drain()
        self.b.errors = [e for e in self.b.errors
                         if not e.startswith(f"{self.b.base}{url} - Failed to load resource")]
        if status >= 400:
            self.fail(url, f"HTTP {status}: {page['text'][:200]!r}")
            return []
        text = page["text"] + "\n" + page["title"]
        found = problems(text)
        if found:
            self.fail(url, "; ".join(found))
        here = self.b.path
        return [urljoin(here, link) for link in page["links"]]

    def own(self, link: str) -> str | None:
        """The same-site path of a link worth following, else None."""
        parts = urlsplit(urljoin(self.b.base + "/", link))
        if parts.scheme not in ("http", "https") or parts.netloc != urlsplit(self.b.base).netloc:
            return None
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if SKIP.search(parts.path) or parts.path.startswith(("/static", "/appbuilder/static")):
            return None
        return path

    def run(self, starts: list[str]) -> None:
        queue = deque((s, 0) for s in starts)
        while queue and self.pages < MAX_PAGES:
            url, depth = queue.popleft()
            kind = pattern(url)
            if kind in self.seen:
                continue
            self.seen.add(kind)
            if DOWNLOAD.search(url):
                self.download(url)
                continue
            for link in self.visit(url):
                target = self.own(link)
                if target and depth < MAX_DEPTH and pattern(target) not in self.seen:
                    queue.append((target, depth + 1))


@pytest.mark.parametrize("role", ROLES)
def test_every_screen_of_a_role_is_clean_chinese(world, browser, role, tmp_path):
    """Issue 14: every screen a role reaches has no error, no Python value, no code and no
    English; downloads answer with a body."""
    b = browser(world)
    b.login(ROLES[role])
    crawl = Crawl(b, role, tmp_path)
    # Item 22: at 1366 px the navigation bar holds one line (Bootstrap's is 50 px high).
    b.driver.set_window_size(1366, 900)
    b.get("/")
    height = b.js("return document.querySelector('.navbar').offsetHeight")
    if height > 60:
        crawl.fail("/", f"the navigation wraps at 1366 px ({height} px high)")
    b.driver.set_window_size(1400, 1000)
    starts = ["/"]
    if b.js("return !!document.querySelector('a[href^=\"/retiree/list/\"]')"):
        b.get("/retiree/list/")
        person = b.js("const a = document.querySelector('a[href*=\"/retiree/show/\"]');"
                      " return a && a.getAttribute('href');")
        starts += ["/retiree/list/", *([person] if person else [])]
    crawl.run(starts)
    assert crawl.pages > 3, f"{role} reached only {crawl.pages} pages"
    assert not crawl.failures, (f"{len(crawl.failures)} failures for {role} "
                                f"({crawl.pages} pages):\n" + "\n".join(crawl.failures))
