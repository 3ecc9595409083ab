"""Issue 14 items 6 and 9: coded fields filtered by their Chinese labels (a drop-down,
dashboard links showing the label), the navbar's one search box (name, pinyin initials,
full ID number, personal number without its zeros — F4 — within the user's scope) and the
roster's "当前筛选：… ×清除" line."""
from __future__ import annotations

import re
from datetime import date
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import update

from core.demo import make_id_card_no
from core.extensions import db
from core.registry.models import Retiree
from core.scoping import unscoped


def _text(response) -> str:
    html = re.sub(r"(?s)<script.*?</script>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&nbsp;", " ")


def _shown(response, ids) -> set[int]:
    page = response.get_data(as_text=True)
    assert response.status_code == 200, response.status_code
    return {pk for pk in ids if f"/retiree/show/{pk}\"" in page}


def _set(app, pk: int, **values) -> None:
    with app.app_context(), unscoped():
        db.session.execute(update(Retiree).where(Retiree.id == pk).values(**values)
                           .execution_options(synchronize_session=False))
        db.session.commit()


@pytest.fixture
def people(app, create_retiree):
    """王建国 (00100380, community managed), 王建华 and 李四3 in 东园社区; 王建民 in 南苑社区."""
    ids = {
        "王建国": create_retiree(1, name="王建国", personal_no="100380"),
        "王建华": create_retiree(2, name="王建华"),
        "李四3": create_retiree(3),
        "王建民": create_retiree(4, community="320502002001", name="王建民"),
    }
    _set(app, ids["王建国"], management_state="community_managed")
    return ids


# --- item 6: coded fields ---------------------------------------------------------------

def _decoded(response) -> str:
    """The page with the search form's JSON (fields' HTML, filter names) unescaped."""
    page = response.get_data(as_text=True)
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)),
                  page).replace('\\"', '"')


def test_roster_offers_coded_fields_as_drop_downs_of_their_labels(client_for):
    page = _decoded(client_for("c_cl11").get("/retiree/list/"))
    for code, label in (("community_managed", "社区管理"), ("employer_managed", "单位管理"),
                        ("agreement_retained", "协保"), ("outside", "居外人员"),
                        ("minimum_living", "低保")):
        assert f'<option value="{code}">{label}</option>' in page, code
    # No text filter on a code: only 等于/不等于/属于/不属于 are offered for 管理状态.
    assert '"management_state": ["等于", "不等于", "属于", "不属于"]' in page


@pytest.mark.parametrize("value", ["社区管理", "community_managed"])
def test_filter_coded_field_by_chinese_label_or_code(client_for, people, value):
    clerk = client_for("c_cl11")
    response = clerk.get(f"/retiree/list/?_flt_0_management_state={value}")
    assert _shown(response, people.values()) == {people["王建国"]}
    response = clerk.get(f"/retiree/list/?_flt_1_management_state={value}")
    assert _shown(response, people.values()) == {people["王建华"], people["李四3"]}


def test_coded_filters_of_the_other_fields_take_labels(app, client_for, people):
    _set(app, people["李四3"], category="agreement_retained", family_status="minimum_living")
    clerk = client_for("c_cl11")
    for query in ("_flt_0_category=协保", "_flt_0_family_status=低保",
                  "_flt_2_category=协保&_flt_2_category=自谋职业"):
        assert _shown(clerk.get(f"/retiree/list/?{query}"), people.values()) == \
            {people["李四3"]}, query
    assert _shown(clerk.get("/retiree/list/?_flt_0_residence_type=本地人员"),
                  people.values()) == {people["王建国"], people["王建华"], people["李四3"]}


def test_dashboard_link_filters_by_code_and_shows_the_label(app, client_for, people):
    from core.dashboard.criteria import eq, list_url

    with app.test_request_context():
        url = list_url([eq("management_state", "community_managed"),
                        eq("category", "enterprise")])
    assert "management_state=community_managed" in url
    response = client_for("c_cl11").get(url)
    assert _shown(response, people.values()) == {people["王建国"]}
    text = _text(response)
    assert "当前筛选：" in text and "管理状态" in text and "社区管理" in text
    assert "企业退休" in text.split("当前筛选：", 1)[1]
    assert "community_managed" not in text


def test_plugin_and_core_model_views_get_coded_drop_downs_too(client_for):
    """Core's mechanism applies to every ScopedModelView with a coded column: here the
    enterprise list's 状态 (its column declares ``info["choices"]``)."""
    admin = client_for("admin")
    page = _decoded(admin.get("/enterprisemodelview/list/"))
    assert '<option value="bankrupt">破产</option>' in page
    response = admin.get("/enterprisemodelview/list/?_flt_0_status=破产")
    text = _text(response)
    assert "320500002 苏州红旗机械厂" in text and "320500001 苏州第一纺织厂" not in text


# --- item 9: the search box ------------------------------------------------------------

def test_search_box_on_every_page_for_roster_users(client_for):
    clerk = client_for("c_cl11")
    for url in ("/", "/retiree/list/", "/retiree/add"):
        page = clerk.get(url).get_data(as_text=True)
        assert 'placeholder="姓名/拼音/身份证号/个人编号"' in page, url
        assert 'action="/retiree/find/"' in page, url


def _find(client, q: str):
    response = client.get("/retiree/find/", query_string={"q": q})
    assert response.status_code == 302, response.status_code
    return response.location


def test_search_by_name_part_opens_the_one_person(client_for, people):
    assert _find(client_for("c_cl11"), "建国").endswith(f"/retiree/show/{people['王建国']}")


def test_search_by_name_with_several_hits_lists_them_with_the_filter_line(client_for, people):
    clerk = client_for("c_cl11")
    location = _find(clerk, "王建")
    assert "/retiree/list/" in location
    response = clerk.get(location)
    assert _shown(response, people.values()) == {people["王建国"], people["王建华"]}
    text = _text(response)
    assert "当前筛选：" in text and "王建" in text and "×清除" in text
    clear = re.search(r'href="([^"]*)" id="ra-clear-filters"', response.get_data(as_text=True))
    assert clear and clear.group(1) == "/retiree/list/"
    cleared = clerk.get(clear.group(1))
    assert "当前筛选" not in _text(cleared)
    assert _shown(cleared, people.values()) == {people["王建国"], people["王建华"],
                                                people["李四3"]}


@pytest.mark.parametrize("q", ["wjg", "WJG", "wjh"])
def test_search_by_pinyin_initials(client_for, people, q):
    expected = people["王建国"] if q.lower() == "wjg" else people["王建华"]
    assert _find(client_for("c_cl11"), q).endswith(f"/retiree/show/{expected}")


def test_F4_search_by_personal_number_without_its_leading_zeros(client_for, people):
    clerk = client_for("c_cl11")
    assert _find(clerk, "100380").endswith(f"/retiree/show/{people['王建国']}")
    assert _find(clerk, "00100380").endswith(f"/retiree/show/{people['王建国']}")


def test_search_by_full_id_number_opens_the_person_and_shows_it_masked(app, client_for,
                                                                       people):
    with app.app_context(), unscoped():
        no = db.session.get(Retiree, people["王建华"]).id_card_no
    clerk = client_for("c_cl11")
    assert _find(clerk, no.lower()).endswith(f"/retiree/show/{people['王建华']}")
    # A part of the number finds no one (issue 12: full numbers only).
    location = _find(clerk, no[:10])
    assert "/retiree/list/" in location
    assert _shown(clerk.get(location), people.values()) == set()
    # The filter line never shows the number in full.
    _set(app, people["王建国"], id_card_no=no[:-1] + ("0" if no[-1] != "0" else "1"))
    line = _text(clerk.get(f"/retiree/list/?_flt_0_id_card_no={no}")).split("当前筛选：", 1)[1]
    assert no[:6] in line and no not in line


def test_search_is_no_oracle_for_people_outside_the_scope(app, client_for, people):
    """王建民 lives in 南苑社区: for 东园社区's clerk searching him by name, initials, ID or
    personal number answers exactly as for someone who does not exist."""
    with app.app_context(), unscoped():
        outside = db.session.get(Retiree, people["王建民"])
        terms = [("王建民", "王建X"), ("wjm", "wjx"), (outside.personal_no.lstrip("0"), "9999")]
        no = outside.id_card_no
    terms.append((no, make_id_card_no("320502", date(1951, 3, 3), 77, "male")))
    clerk = client_for("c_cl11")
    for present, absent in terms:
        found, missing = _find(clerk, present), _find(clerk, absent)
        assert "/retiree/list/" in found and "/retiree/list/" in missing, present
        assert [k for k, _ in parse_qsl(urlsplit(found).query)] == \
            [k for k, _ in parse_qsl(urlsplit(missing).query)], present
        a, b = clerk.get(found), clerk.get(missing)
        assert _shown(a, people.values()) == _shown(b, people.values()) == set(), present
        assert a.status_code == b.status_code == 200
    # The street above his community finds him.
    assert _find(client_for("s_cl2"), "王建民").endswith(f"/retiree/show/{people['王建民']}")


def test_blank_search_opens_the_roster(client_for):
    assert _find(client_for("c_cl11"), "  ").endswith("/retiree/list/")


def test_name_initials_filled_on_create(app, client_for, people):
    with app.app_context(), unscoped():
        assert db.session.get(Retiree, people["王建国"]).name_initials == "wjg"


def test_migration_backfills_missing_and_stale_initials(app, people):
    """0011 recomputes ``name_initials`` where it is empty or wrong, and only there."""
    import importlib.util
    from pathlib import Path

    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    import migrations

    path = Path(migrations.__file__).parent / "versions" / "0011_retiree_name_initials.py"
    spec = importlib.util.spec_from_file_location("backfill_0011", path)
    backfill = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(backfill)
    _set(app, people["王建国"], name_initials="")
    _set(app, people["王建华"], name_initials="xx")
    with app.app_context():
        with db.engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
            backfill.upgrade()
        with unscoped():
            db.session.expire_all()
            assert {pk: db.session.get(Retiree, pk).name_initials for pk in people.values()} \
                == {people["王建国"]: "wjg", people["王建华"]: "wjh", people["李四3"]: "ls",
                    people["王建民"]: "wjm"}


def test_name_initials_filled_by_the_import(app, import_file):
    """The bulk import builds each row through the service, which sets the initials."""
    from sqlalchemy import select

    from core.registry import exchange
    from core.registry.validators import name_initials

    path, _ = import_file(20)
    with app.app_context():
        exchange.import_retirees(db.session, str(path), "importer")
        with unscoped():
            pairs = db.session.execute(select(Retiree.name, Retiree.name_initials)).all()
    assert len(pairs) == 20
    assert all(initials and initials == name_initials(name) for name, initials in pairs)


def test_history_list_filters_the_business_by_its_label(client_for, people):
    """A view names coded columns of its own (``coded_columns``): 业务 of the history."""
    clerk = client_for("c_cl11")
    page = _decoded(clerk.get("/retireehistoryview/list/"))
    assert '<option value="create">登记</option>' in page
    assert '<option value="management_state">管理状态</option>' in page

    def rows(query: str) -> int:
        page = clerk.get(f"/retireehistoryview/list/?{query}").get_data(as_text=True)
        return len(set(re.findall(r"/retireehistoryview/show/(\d+)", page)))

    everything = rows("")
    assert everything > 0
    assert rows("_flt_0_action=登记") == rows("_flt_0_action=create") > 0
    assert rows("_flt_0_action=迁移") == 0
    assert rows("_flt_1_action=登记") == everything - rows("_flt_0_action=登记")
