"""Issue 12, items 2–4: the ID mask could be undone with the birth date shown beside it,
a "starts with" search on the ID number answered digit by digit, and illness and health
notes reached roles without the health permission through the history and the ledger.
Each test replays the attack; ``test_no_marker_leaks_*`` crawls every screen, API answer,
export and PDF a supervisor and a community clerk without unmask can reach."""
from __future__ import annotations

import html
import io
import json
import re
import shutil
import subprocess
from collections import deque
from datetime import date
from urllib.parse import urlsplit

import openpyxl
import pytest

from core.demo import make_id_card_no
from core.registry.validators import _id_check_char, mask_id_card
from core.testing import PASSWORD, missing

AREA = "320502"
BIRTH = date(1951, 3, 17)
GENDER = "female"
# What the seeded person carries: every one of these is a marker no masked viewer may see.
ID_OLD = make_id_card_no(AREA, BIRTH, 387, GENDER)
ID_NEW = make_id_card_no(AREA, BIRTH, 261, GENDER)
PHONE_OLD, PHONE_NEW = "13957240816", "15862093174"
HEALTH_OLD, HEALTH_NEW = "健康标记甲QX7", "健康标记乙ZK4"
PHONE_PARK = "13791827364"  # an outside resident living in the Industrial Park (A45)
MARKERS = (ID_OLD, ID_NEW, PHONE_OLD, PHONE_NEW, HEALTH_OLD, HEALTH_NEW, PHONE_PARK)
NAME = "马克尔"
# Candidates a masked viewer must be left with: every sequence code of the person's sex.
MIN_CANDIDATES = 500
ID_SHAPED = re.compile(r"(?<![0-9])[0-9]{6}[0-9*]{11}[0-9X*](?![0-9X*])")


def candidates(shown: str, area: str, birth: date, gender: str) -> int:
    """How many valid ID numbers agree with a shown (masked) number and with the area,
    birth date and gender shown beside it."""
    count = 0
    stem = f"{area}{birth:%Y%m%d}"
    for seq in range(1000):
        if seq % 2 != (1 if gender == "male" else 0):
            continue
        first17 = f"{stem}{seq:03d}"
        full = first17 + _id_check_char(first17)
        if all(s in ("*", c) for s, c in zip(shown, full, strict=True)):
            count += 1
    return count


# --- item 2: the mask cannot be undone ------------------------------------------------------

def test_masked_id_cannot_be_rebuilt_from_a_supervisors_api_page(secure_app, login_as,
                                                                 create_retiree):
    """The attack: the masked number of each person of one API page, with the birth date
    and gender beside it, left one candidate (the old mask hid only the birth date)."""
    pks = [create_retiree(n, gender="male" if n % 2 else "female") for n in range(1, 6)]
    client = login_as("sup")
    for pk in pks:
        shown = client.get(f"/api/v1/retiree/{pk}").json["result"]
        birth = date.fromisoformat(shown["birth_date"])
        assert candidates(shown["id_card_masked"], shown["id_card_masked"][:6], birth,
                          shown["gender"]) >= MIN_CANDIDATES
    page = client.get("/api/v1/retiree/").json["result"]
    for row in page:
        assert candidates(row["id_card_masked"], row["id_card_masked"][:6],
                          date.fromisoformat(row["birth_date"]), row["gender"]) >= MIN_CANDIDATES


def test_old_mask_was_reversible_and_the_new_one_hides_the_sequence():
    old = ID_OLD[:6] + "*" * 8 + ID_OLD[-4:]
    assert candidates(old, AREA, BIRTH, GENDER) == 1
    assert mask_id_card(ID_OLD) == AREA + "*" * 12
    assert candidates(mask_id_card(ID_OLD), AREA, BIRTH, GENDER) == MIN_CANDIDATES


def test_a_file_masked_the_old_way_imports_back_without_harm(secure_app, create_retiree,
                                                              retiree_payload, tmp_path):
    """An export made before the new mask (first 6 and last 4 shown) still imports back:
    the masked number keeps the real one, and a masked number never registers anyone."""
    from core.extensions import db
    from core.registry import excel
    from core.registry.exchange import import_retirees, retiree_row
    from core.registry.models import Retiree

    rid = create_retiree(1)
    full = retiree_payload(1)["id_card_no"]
    path = tmp_path / "old.xlsx"
    with secure_app.app_context():
        person = db.session.get(Retiree, rid)
        row = retiree_row(person)
        row["id_card_no"] = full[:6] + "*" * 8 + full[-4:]
        stranger = dict(row, personal_no="77770001", name="王五",
                        id_card_no=mask_id_card(make_id_card_no(AREA, BIRTH, 5, "male")))
        excel.write_export(str(path), [row, stranger])
        result = import_retirees(db.session, str(path), "cli")
        assert result.updated == 0 and result.failed == 1
        assert "脱敏" in " ".join(result.errors[0][2])
        assert db.session.get(Retiree, rid).id_card_no == full
        assert db.session.query(Retiree).filter_by(personal_no="77770001").count() == 0


# --- item 3: search is no oracle --------------------------------------------------------------

def _names_listed(response) -> set[str]:
    if response.status_code != 200:
        return set()
    return set(re.findall(r"(张三|李四\d+)", response.get_data(as_text=True)))


def test_starts_with_search_on_the_id_number_reveals_nothing_without_unmask(
        secure_app, login_as, create_retiree, retiree_payload):
    """The attack: ``_flt_<n>_id_card_no`` with a growing prefix found the next digit in
    at most ten requests. Without unmask, every filter index answers the same for a
    right and a wrong prefix: refused, or no difference at all."""
    create_retiree(1)
    create_retiree(2)
    full = retiree_payload(1)["id_card_no"]
    wrong = full[:14] + ("1" if full[14] != "1" else "2")
    client = login_as("sup")
    for index in range(10):
        right_answer = client.get(f"/retiree/list/?_flt_{index}_id_card_no={full[:15]}")
        wrong_answer = client.get(f"/retiree/list/?_flt_{index}_id_card_no={wrong}")
        assert right_answer.status_code != 500
        assert _names_listed(right_answer) == _names_listed(wrong_answer), index
    exact = client.get(f"/retiree/list/?_flt_0_id_card_no={full}")
    assert _names_listed(exact) == {"张三"}


def _offered(page: str) -> dict[str, list[str]]:
    """The filters the list's search form offers per column (the script's 3rd argument)."""
    rest = page[page.index("new AdminFilters(") + len("new AdminFilters("):]
    rest = rest[rest.index(",") + 1:]
    decoder, values = json.JSONDecoder(), []
    for _ in range(3):
        value, end = decoder.raw_decode(rest.lstrip())
        values.append(value)
        rest = rest.lstrip()[end:].lstrip().lstrip(",")
    return values[2]


def test_partial_id_and_phone_searches_are_refused_in_chinese(secure_app, login_as,
                                                               create_retiree, retiree_payload):
    create_retiree(1)
    full = retiree_payload(1)["id_card_no"]
    client = login_as("sup")
    page = client.get("/retiree/list/").get_data(as_text=True)
    offered = _offered(page)
    assert offered["id_card_no"] == ["完整身份证号", "等于"]
    refused = client.get(f"/retiree/list/?_flt_2_id_card_no={full[:10]}")
    assert refused.status_code == 302 and "张三" not in refused.get_data(as_text=True)
    with client.session_transaction() as session:
        assert any("只能按完整号码精确查找" in text for _, text in session["_flashes"])
    for col, value in (("id_card_no", full[:10]), ("phone", "138")):
        answer = client.get("/api/v1/retiree/", query_string={"q": json.dumps(
            {"filters": [{"col": col, "opr": "sw", "value": value}]})})
        assert answer.status_code == 400 and "张三" not in answer.get_data(as_text=True)


def test_users_with_unmask_keep_partial_search(secure_app, login_as, create_retiree,
                                               retiree_payload):
    create_retiree(1)
    full = retiree_payload(1)["id_card_no"]
    page = login_as("c_cl11").get("/retiree/list/").get_data(as_text=True)
    offered = _offered(page)
    index = offered["id_card_no"].index("以开始")
    found = login_as("c_cl11").get(f"/retiree/list/?_flt_{index}_id_card_no={full[:10]}")
    assert "张三" in found.get_data(as_text=True)


# --- item 4: health data only with the health permission -------------------------------------

@pytest.fixture
def changed_health(secure_app, create_retiree, client_for):
    rid = create_retiree(1, serious_illness="uraemia", health_notes=HEALTH_OLD)
    answer = client_for("admin").put(f"/api/v1/retiree/{rid}", json={
        "serious_illness": "tumour", "health_notes": HEALTH_NEW})
    assert answer.status_code == 200, answer.json
    return rid


def test_history_hides_old_and_new_health_values_from_supervisors(secure_app, login_as,
                                                                    changed_health, region_id):
    """The attack: the history tab, the history list and each history row's page gave
    the old and new illness and health notes to a supervisor."""
    rid = changed_health
    client = login_as("sup")
    listing = client.get("/retireehistoryview/list/").get_data(as_text=True)
    pages = [listing, client.get(f"/retiree/show/{rid}").get_data(as_text=True)]
    pages += [client.get(f"/retireehistoryview/show/{pk}").get_data(as_text=True)
              for pk in set(re.findall(r"/retireehistoryview/show/(\d+)", listing))]
    assert len(pages) > 2
    for text in pages:
        for secret in (HEALTH_OLD, HEALTH_NEW, "尿毒症", "恶性肿瘤"):
            assert secret not in text
    assert "健康信息，无权查看" in listing
    # nor can the stored values be probed with a filter
    probe = client.get(f"/retireehistoryview/list/?_flt_0_old_value={HEALTH_OLD}")
    wrong = client.get("/retireehistoryview/list/?_flt_0_old_value=nothing")
    assert probe.get_data(as_text=True).count("<tr") == wrong.get_data(as_text=True).count("<tr")
    staff = login_as("c_cl11").get("/retireehistoryview/list/").get_data(as_text=True)
    assert HEALTH_OLD in staff and HEALTH_NEW in staff


def test_ledger_hides_illness_per_person_from_supervisors(secure_app, login_as,
                                                          changed_health, region_id):
    community = region_id("320502001001")
    page = login_as("sup").get(f"/retiree-exchange/ledger?community={community}")
    text = page.get_data(as_text=True)
    assert "张三" in text and "恶性肿瘤" not in text and "重病情况" not in text
    staff = login_as("c_cl11").get(f"/retiree-exchange/ledger?community={community}")
    assert "恶性肿瘤" in staff.get_data(as_text=True)


# --- the general test: no marker leaks anywhere -----------------------------------------------

@pytest.fixture
def every_plugin_on(secure_app):
    from core.extensions import db
    from core.regions import region_by_code

    with secure_app.app_context():
        plugins = secure_app.extensions["retiree_admin.plugins"]
        for name, loaded in plugins.plugins.items():
            for code in loaded.info.regions or ("320500",):
                plugins.set_enabled(db.session, name, region_by_code(db.session, code), True,
                                    "test")
        db.session.commit()


@pytest.fixture
def clerk_without_unmask(secure_app):
    """``community_staff`` holds ``can_unmask`` and the health permission: this clerk is
    a community clerk with neither (a role of their own, built like the builtin ones)."""
    from core.commands import create_user
    from core.extensions import db
    from core.security import ROLES

    withheld = "^(?!(?:RetireeUnmaskView|RetireeHealth)$)"
    with secure_app.app_context():
        sm = secure_app.appbuilder.sm
        sm._builtin_roles = {**sm.builtin_roles, "community_staff_masked": [
            [withheld + f"(?:{view})", permission]
            for view, permission in ROLES["community_staff"]]}
        role = sm.add_role("community_staff_masked")
        user = create_user("c_masked", PASSWORD, "community_staff", "320502001001",
                           temporary=False)
        user.roles = [role]
        db.session.commit()
    return "c_masked"


@pytest.fixture
def marked_person(secure_app, every_plugin_on, create_retiree, client_for):
    """A person whose ID number, phone and health notes are markers, changed once, so
    that the history holds the old and the new values; a neighbour in the same list."""
    rid = create_retiree(1, name=NAME, id_card_no=ID_OLD, gender=GENDER,
                         birth_date=BIRTH.isoformat(), phone=PHONE_OLD,
                         serious_illness="uraemia", health_notes=HEALTH_OLD,
                         residence_address="苏州工业园区金鸡湖路1号")
    create_retiree(2)
    create_retiree(3, community=None, phone=PHONE_PARK,
                   residence_address="苏州工业园区金鸡湖路1号")
    answer = client_for("admin").put(f"/api/v1/retiree/{rid}", json={
        "id_card_no": ID_NEW, "phone": PHONE_NEW, "health_notes": HEALTH_NEW})
    assert answer.status_code == 200, answer.json
    with secure_app.app_context():
        from districts.industrial_park.residents import build

        assert build()["added"] == 1
    return rid


# Pages that change state on GET, or that only echo what the user typed.
SKIPPED = re.compile(r"/logout|/action/|/delete/|/lang/|/static/|/swagger|/_openapi"
                     r"|/security/|/login")
# Filled in by print's and the edit form's own fixes (engineer print): crawled apart.
PRINTED = re.compile(r"^/retiree/(print|card|edit)/")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _pdf_text(data: bytes, tmp_path) -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        missing("pdftotext missing: apt-get install -y poppler-utils")
    src = tmp_path / "leak.pdf"
    src.write_bytes(data)
    return subprocess.run([exe, "-enc", "UTF-8", str(src), "-"], check=True,
                          capture_output=True, timeout=60).stdout.decode("utf-8")


def _text_of(response, tmp_path) -> str:
    kind = response.mimetype
    if kind == "application/pdf":
        return _pdf_text(response.data, tmp_path)
    if kind == XLSX:
        book = openpyxl.load_workbook(io.BytesIO(response.data))
        cells = [str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True)
                 for v in row if v is not None]
        return "\n".join(cells)
    if kind == "application/json":
        return json.dumps(response.get_json(silent=True), ensure_ascii=False)
    if kind.startswith("image/"):  # the favicon: no text
        return ""
    return html.unescape(response.get_data(as_text=True))


def _leaks(text: str) -> list[str]:
    found = [m for m in MARKERS if m in text]
    for token in ID_SHAPED.findall(text):
        if token.startswith(AREA) and token[6:14] in (f"{BIRTH:%Y%m%d}", "*" * 8) \
                and candidates(token, AREA, BIRTH, GENDER) < MIN_CANDIDATES:
            found.append(f"rebuildable {token}")
    return found


def _seeds(app, rid: int, community: int) -> list[str]:
    """Every GET route without arguments, every route of one id on the person, every
    API's list and _info, the lists with filters, and the exports."""
    from flask_appbuilder.api import ModelRestApi

    seeds = [f"/retiree/list/?_flt_0_name={NAME[:1]}", "/retiree/list/?_flt_1_form_complete=n",
             f"/retiree/export/?_flt_0_name={NAME[:1]}", "/retiree/export/",
             f"/retiree-exchange/ledger?community={community}",
             f"/retiree-exchange/ledger?community={community}&format=xlsx",
             f"/retireehistoryview/list/?_flt_0_retiree={rid}"]
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        args = sorted(rule.arguments)
        if not args:
            seeds.append(rule.rule)
        elif args == ["pk"] and rule.endpoint.split(".")[0] in (
                "RetireeModelView", "RetireeUnmaskView", "RetireeApi"):
            seeds.append(rule.rule.replace("<int:pk>", str(rid)).replace("<pk>", str(rid)))
    for view in app.appbuilder.baseviews:
        if isinstance(view, ModelRestApi):
            base = f"/api/v1/{view.resource_name}/"
            seeds += [base, f"{base}_info"]
    return [s for s in seeds if not SKIPPED.search(s)]


def _crawl(client, seeds: list[str], tmp_path, wanted=lambda path: True) -> tuple[dict, dict]:
    """Fetch the seeds and follow every local link and API id: the leaks per URL, and
    what each URL answered with 200 (its type, and whether it showed the masked number)."""
    queue, seen, leaks, per_path, fetched = deque(seeds), set(), {}, {}, {}
    while queue:
        url = queue.popleft()
        parts = urlsplit(url)
        if url in seen or parts.netloc or SKIPPED.search(parts.path) \
                or not wanted(parts.path) or re.search(r"_oc_|psize_|page_", parts.query):
            continue
        per_path[parts.path] = per_path.get(parts.path, 0) + 1
        if per_path[parts.path] > 6:
            continue
        seen.add(url)
        response = client.get(url)
        if response.status_code in (301, 302, 303) and response.location:
            queue.append(urlsplit(response.location)._replace(scheme="", netloc="").geturl())
            continue
        if response.status_code != 200:
            continue
        text = _text_of(response, tmp_path)
        fetched[url] = (response.mimetype, mask_id_card(ID_NEW) in text)
        found = _leaks(text)
        if found:
            leaks[url] = found
        if response.mimetype == "text/html":
            queue.extend(html.unescape(h) for h in re.findall(r'href="([^"#]+)', text)
                         if h.startswith("/"))
        elif response.mimetype == "application/json" and parts.path.startswith("/api/v1/"):
            body = response.get_json(silent=True) or {}
            if parts.path.endswith("/") and isinstance(body.get("ids"), list):
                queue.extend(f"{parts.path}{pk}" for pk in body["ids"])
    return leaks, fetched


@pytest.fixture(params=["sup", "clerk"])
def masked_viewer(request, login_as, clerk_without_unmask):
    name = "sup" if request.param == "sup" else clerk_without_unmask
    return name, login_as(name)


def test_no_marker_leaks_on_any_screen_api_or_export(secure_app, masked_viewer, marked_person,
                                                     region_id, tmp_path):
    rid = marked_person
    name, client = masked_viewer
    seeds = _seeds(secure_app, rid, region_id("320502001001"))
    leaks, fetched = _crawl(client, seeds, tmp_path, wanted=lambda path: not PRINTED.match(path))
    # The crawl reached the person everywhere: their page, history, API, exports, a PDF.
    shown = {url for url, (_, masked) in fetched.items() if masked}
    assert {f"/retiree/show/{rid}", f"/api/v1/retiree/{rid}"} <= shown
    assert any(url.startswith("/retireehistoryview/show/") for url in fetched)
    assert any(url.endswith("format=xlsx") for url in shown)
    assert any(kind == XLSX and url.startswith("/dashboard/")
               for url, (kind, _) in fetched.items())
    assert any(kind == "application/pdf" for kind, _ in fetched.values())
    if name == "sup":  # the city sees the Park's list of outside residents
        assert any(re.match(r"/park-resident/show/\d+$", url) for url in fetched)
        assert any(re.match(r"/api/v1/park_resident/\d+$", url) for url in fetched)
    assert len(fetched) > 80
    assert leaks == {}


def test_no_marker_leaks_in_the_printed_documents_and_the_edit_form(
        secure_app, masked_viewer, marked_person, tmp_path):
    """The registration form, the contact card and the edit form (engineer print's fix:
    masked unless unmasked with a reason)."""
    urls = [f"/retiree/{kind}/{marked_person}" for kind in ("print", "card", "edit")]
    leaks, fetched = _crawl(masked_viewer[1], urls, tmp_path)
    assert f"/retiree/print/{marked_person}" in fetched
    assert leaks == {}
