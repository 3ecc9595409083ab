"""Issue 14 item 2: no link, menu entry or button leads its user to a refusal.

For every role (the test users of core.testing and the demo's security and audit
administrators), the home page, the roster and a person's page are fetched; every
same-site link and form action on them (navbar included) is then opened with GET, and
none may answer 4xx or 5xx. A form posting to an address that only takes POST (logout,
the plugin switch) is checked to have a route for POST and to be allowed (the switch
buttons are posted in test_plugin_switch_offers_only_what_is_accepted).
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from core.testing import PASSWORD, USERS

# Not opened: the language switch (a GET that changes the session's language) and
# static files.
SKIPPED = ("/lang/", "/ra-static/", "/static/", "/appbuilder/")
EXTRA_USERS = {"seccity": "security_admin", "auditcity": "audit_admin"}
ALL_USERS = [*USERS, *EXTRA_USERS]
ROSTER = "/retiree/list/"
# One person in each community of the test users.
PEOPLE = {1: "320502001001", 2: "320502001002", 3: "320502002001", 4: "320503001001"}


class Targets(HTMLParser):
    """Every link (href) and form (action, method) of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.forms: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "form" and attrs.get("action"):
            self.forms.append((attrs["action"], (attrs.get("method") or "get").upper()))


def _same_site(base: str, href: str) -> str | None:
    if href.startswith(("#", "javascript:", "mailto:", "tel:")):
        return None
    url = urljoin("http://localhost" + base, href)
    parts = urlsplit(url)
    if parts.netloc != "localhost" or parts.path.startswith(SKIPPED):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _targets(path: str, html: str) -> tuple[set[str], set[tuple[str, str]]]:
    parser = Targets()
    parser.feed(html)
    links = {u for u in (_same_site(path, h) for h in parser.links) if u}
    forms = {(u, m) for u, m in ((_same_site(path, a), m) for a, m in parser.forms) if u}
    return links, forms


@pytest.fixture
def people(app, create_retiree):
    from core.commands import create_user

    with app.app_context():
        for username, role in EXTRA_USERS.items():
            create_user(username, PASSWORD, role, "320500", name=username, temporary=False)
    return {n: create_retiree(n, code) for n, code in PEOPLE.items()}


def _route_takes(app, path: str, method: str) -> bool:
    adapter = app.url_map.bind("localhost")
    try:
        adapter.match(urlsplit(path).path, method=method)
    except (NotFound, MethodNotAllowed):
        return False
    except Exception:  # a strict-slash redirect: the route exists
        return True
    return True


@pytest.mark.parametrize("username", ALL_USERS)
def test_every_link_and_button_offered_opens(app, client_for, people, username):
    client = client_for(username)
    pages = ["/"]
    home = client.get("/")
    assert home.status_code == 200
    links, forms = _targets("/", home.get_data(as_text=True))
    business = username not in EXTRA_USERS
    assert (ROSTER in links) == business, f"{username}: the roster offered: {ROSTER in links}"
    if business:
        roster = client.get(ROSTER)
        assert roster.status_code == 200
        more, more_forms = _targets(ROSTER, roster.get_data(as_text=True))
        pages.append(ROSTER)
        links |= more
        forms |= more_forms
        person = sorted(u for u in more if re.fullmatch(r"/retiree/show/\d+", u))
        # 吴中区 (outside the pooling area) has nobody; everyone else has someone.
        assert person or USERS[username][1].startswith("320506"), \
            f"{username}: no person on the roster"
        for path in person[:1]:
            page = client.get(path)
            assert page.status_code == 200
            pages.append(path)
            more, more_forms = _targets(path, page.get_data(as_text=True))
            links |= more
            forms |= more_forms
    dead = []
    for action, method in sorted(forms):
        if method == "GET":
            links.add(action)
        elif not _route_takes(app, action, method):
            dead.append(f"form {method} {action}: no route")
        elif _route_takes(app, action, "GET"):
            links.add(action)
    for url in sorted(links):
        response = client.get(url, follow_redirects=True)
        if response.status_code >= 400:
            dead.append(f"{url}: HTTP {response.status_code}")
        elif response.request.path.startswith("/login"):
            dead.append(f"{url}: sent to the login page")
    assert not dead, f"{username} is offered, on {pages}:\n" + "\n".join(dead)


def _switch_forms(html: str) -> list[dict]:
    forms = re.findall(r'<form method="post" action="/plugins/switch">(.*?)</form>', html, re.S)
    return [dict(re.findall(r'name="(plugin|region|enabled)" value="([^"]*)"', f)) for f in forms]


@pytest.mark.parametrize("username", ["city", "d_cl", "d_wz"])
def test_plugin_switch_offers_only_what_is_accepted(app, client_for, username):
    """Every 启用/停用 button of the plugin manager is accepted when pressed, and
    pressed back (the state is restored): a combination that would be refused (a
    plugin for other districts, a dependency off, a plugin another one needs) is not
    offered."""
    client = client_for(username)
    page = client.get("/plugins/")
    assert page.status_code == 200
    offered = _switch_forms(page.get_data(as_text=True))
    assert offered, f"{username}: no switch offered"
    for form in offered:
        for data in (form, {**form, "enabled": "0" if form["enabled"] == "1" else "1"}):
            done = client.post("/plugins/switch", data=data, follow_redirects=True)
            text = done.get_data(as_text=True)
            assert done.status_code == 200 and "alert-success" in text, (username, data)
