"""Separation of duties (MLPS level 3, issue #12 items 6–7): one user holds at most one
of the system, security and audit administrator roles and none of them with a business
role, whatever the path; a security administrator neither grants nor touches the system
and audit administrators' accounts; the user screens are Chinese."""
from __future__ import annotations

import re

import pytest
from flask_appbuilder.security.sqla.models import Group, Role
from sqlalchemy import insert, select

from core.errors import RuleViolation
from tests.security.conftest import csrf_token, get_user

COMBINED = "三员分立"


def _ids(app, *names):
    from core.extensions import db
    from core.regions import Region

    with app.app_context():
        return [db.session.scalar(select(Region.id).where(Region.code == n)) if n.isdigit()
                else db.session.scalar(select(Role.id).where(Role.name == n)) for n in names]


def _add_user(client, app, roles: list[str], region: str, username: str = "newbie",
              **fields):
    region_id, *role_ids = _ids(app, region, *roles)
    return client.post("/users/add", data={
        "csrf_token": csrf_token(client, "/users/add"), "username": username,
        "first_name": "王建国", "email": "", "region": region_id, "roles": role_ids,
        "active": "y", "password": "Start@2024pw", "conf_password": "Start@2024pw"} | fields,
        follow_redirects=True)


def _edit_user(client, app, username: str, roles: list[str] | None = None, **fields):
    user = get_user(app, username)
    path = f"/users/edit/{user.id}"
    role_ids = _ids(app, *roles) if roles else [r.id for r in user.roles]
    return client.post(path, data={
        "csrf_token": csrf_token(client, "/users/list/"), "username": user.username,
        "first_name": user.first_name, "email": user.email, "region": user.region_id,
        "roles": role_ids, "active": "y"} | fields, follow_redirects=True)


def cli(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def _roles(app, username: str) -> list[str]:
    return sorted(r.name for r in get_user(app, username).roles)


@pytest.fixture
def city_security(make_user, login_as):
    make_user("sec_city", "security_admin", "320500")
    return login_as("sec_city")


# --- combinations are refused on every path ------------------------------------------------

@pytest.mark.parametrize(("roles", "region"), [
    (["security_admin", "district_admin"], "320502"),
    (["audit_admin", "city_admin"], "320500"),
    (["security_admin", "audit_admin"], "320500"),
])
def test_security_admin_cannot_create_a_user_with_combined_duties(secure_app, city_security,
                                                                  roles, region):
    page = _add_user(city_security, secure_app, roles, region).get_data(as_text=True)
    assert get_user(secure_app, "newbie") is None
    assert "不能授予角色" in page or COMBINED in page


def test_combined_duties_are_refused_with_the_rule_on_the_screen(secure_app, city_security):
    page = _add_user(city_security, secure_app, ["security_admin", "district_admin"],
                     "320502").get_data(as_text=True)
    assert "三员分立：安全管理员不能同时担任业务角色（区退管中心管理员）" in page
    assert get_user(secure_app, "newbie") is None


def test_security_admin_cannot_add_security_admin_to_an_existing_district_admin(
        secure_app, city_security):
    page = _edit_user(city_security, secure_app, "d_cl",
                      ["district_admin", "security_admin"]).get_data(as_text=True)
    assert COMBINED in page
    assert _roles(secure_app, "d_cl") == ["district_admin"]


@pytest.mark.parametrize("roles", [
    ["security_admin", "district_admin"],
    ["audit_admin", "city_admin"],
    ["security_admin", "audit_admin"],
    ["system_admin", "city_admin"],
])
def test_users_create_cli_refuses_combined_duties(secure_app, roles):
    args = [a for role in roles for a in ("--role", role)]
    region = "320502" if "district_admin" in roles else "320500"
    result = cli(secure_app, "users", "create", "wang", "--password", "Hv7#pLq2Ws9e", *args,
                 "--region", region)
    assert result.exit_code != 0
    assert COMBINED in result.output and "Traceback" not in result.output
    assert get_user(secure_app, "wang") is None


def test_users_grant_cli_refuses_security_admin_for_a_district_admin(secure_app):
    result = cli(secure_app, "users", "grant", "d_cl", "--role", "security_admin")
    assert result.exit_code != 0
    assert "三员分立：安全管理员不能同时担任业务角色（区退管中心管理员）" in result.output
    assert _roles(secure_app, "d_cl") == ["district_admin"]
    granted = cli(secure_app, "users", "grant", "d_cl", "--role", "supervisor")
    assert granted.exit_code == 0, granted.output
    assert _roles(secure_app, "d_cl") == ["district_admin", "supervisor"]


def test_no_orm_path_writes_combined_duties(secure_app):
    """Direct role assignment, and a FAB group carrying an administrator role."""
    from core.extensions import db
    from core.security import RegionUser

    with secure_app.app_context():
        user = db.session.scalar(select(RegionUser).where(RegionUser.username == "d_cl"))
        user.roles.append(db.session.scalar(select(Role).where(Role.name == "audit_admin")))
        with pytest.raises(RuleViolation, match=COMBINED):
            db.session.commit()
        db.session.rollback()
        group = Group(name="duties_auditors", label="审计组",
                      roles=[db.session.scalar(select(Role).where(Role.name == "audit_admin"))])
        group.users.append(db.session.scalar(
            select(RegionUser).where(RegionUser.username == "d_cl")))
        db.session.add(group)
        with pytest.raises(RuleViolation, match=COMBINED):
            db.session.commit()
        db.session.rollback()
        assert db.session.scalar(select(Group).where(Group.name == "duties_auditors")) is None
    assert _roles(secure_app, "d_cl") == ["district_admin"]


def test_users_check_names_a_user_with_combined_duties_from_an_older_database(secure_app):
    """A database written before the rule: the row goes in by SQL, past the ORM."""
    from flask_appbuilder.security.sqla.models import assoc_user_role

    from core.extensions import db
    assert cli(secure_app, "users", "check").exit_code == 0
    user_id, role_id = get_user(secure_app, "d_cl").id, _ids(secure_app, "security_admin")[0]
    with secure_app.app_context():
        db.session.execute(insert(assoc_user_role).values(user_id=user_id, role_id=role_id))
        db.session.commit()
    result = cli(secure_app, "users", "check")
    assert result.exit_code != 0
    assert "d_cl\t三员分立" in result.output and "1 个用户违反三员分立" in result.output


# --- the other duties' accounts --------------------------------------------------------------

def test_security_admin_cannot_grant_the_audit_or_system_administrator(secure_app,
                                                                       city_security):
    for role in ("audit_admin", "system_admin"):
        _add_user(city_security, secure_app, [role], "320500")
        assert get_user(secure_app, "newbie") is None, role
    page = city_security.get("/users/add").get_data(as_text=True)
    offered = re.findall(r"<option[^>]*>([^<]+)</option>", page)
    assert "安全管理员" in offered
    assert "审计管理员" not in offered and "系统管理员" not in offered


@pytest.mark.parametrize("target", ["auditor", "admin"])
def test_security_admin_cannot_edit_disable_reset_or_unlock_an_audit_admin(
        secure_app, make_user, city_security, target):
    make_user("auditor", "audit_admin", "320500")
    user = get_user(secure_app, target)
    token = csrf_token(city_security, "/users/list/")
    refused = (403, 404)
    assert city_security.get(f"/users/edit/{user.id}").status_code in refused
    disable = city_security.post(f"/users/edit/{user.id}", data={
        "csrf_token": token, "username": target, "first_name": "改名", "email": "",
        "region": user.region_id, "roles": [r.id for r in user.roles]})
    assert disable.status_code in refused
    reset = city_security.post(f"/resetpassword/form?pk={user.id}", data={
        "csrf_token": token, "password": "Other@2024pw", "conf_password": "Other@2024pw"})
    assert reset.status_code in refused
    assert city_security.post(f"/users/action/unlock/{user.id}",
                              data={"csrf_token": token}).status_code in refused
    assert city_security.post("/users/action_post", data={
        "csrf_token": token, "action": "unlock", "rowid": [str(user.id)]}).status_code in refused
    after = get_user(secure_app, target)
    assert after.active and after.first_name == user.first_name
    assert after.password == user.password


def test_refusal_to_touch_an_audit_admin_is_explained_in_chinese(secure_app, make_user,
                                                                  city_security):
    make_user("auditor", "audit_admin", "320500")
    page = city_security.get(f"/users/edit/{get_user(secure_app, 'auditor').id}")
    assert page.status_code == 403
    assert "三员分立：安全管理员不能" in page.get_data(as_text=True)


# --- Chinese user screens ---------------------------------------------------------------------

ENGLISH = ["First Name", "Last Name", "User Name", "Username", "Email", "Is Active",
           "It's not a good policy", "Full Name", "Role", "Password", "Select a State",
           "community_staff", "city_admin", "district_admin", "security_admin", "audit_admin",
           "system_admin", "street_staff"]


def test_user_screens_are_chinese_with_chinese_role_names(secure_app, city_security):
    uid = get_user(secure_app, "c_cl11").id
    for path in ("/users/list/", f"/users/show/{uid}", "/users/add", f"/users/edit/{uid}"):
        page = city_security.get(path)
        assert page.status_code == 200, path
        text = page.get_data(as_text=True)
        for english in ENGLISH:
            assert english not in text, (path, english)
        assert "登录名" in text and "姓名" in text, path
    assert "社区工作人员" in city_security.get("/users/list/").get_data(as_text=True)
    add = city_security.get("/users/add").get_data(as_text=True)
    assert "电子邮箱（选填）" in add and "区退管中心管理员" in add


def test_user_with_a_chinese_name_and_no_email_is_created_and_shown_without_one(
        secure_app, city_security):
    _add_user(city_security, secure_app, ["community_staff"], "320502001001",
              first_name="欧阳秀英")
    user = get_user(secure_app, "newbie")
    assert (user.first_name, user.last_name) == ("欧阳秀英", "")
    show = city_security.get(f"/users/show/{user.id}").get_data(as_text=True)
    edit = city_security.get(f"/users/edit/{user.id}").get_data(as_text=True)
    assert "欧阳秀英" in show and ".invalid" not in show and ".invalid" not in edit
    _add_user(city_security, secure_app, ["community_staff"], "320502001001",
              username="other", email="shared@example.com")
    page = _add_user(city_security, secure_app, ["community_staff"], "320502001001",
                     username="third", email="shared@example.com").get_data(as_text=True)
    assert "该电子邮箱已被其他用户使用" in page
    assert get_user(secure_app, "third") is None


def test_role_screens_show_chinese_role_names(secure_app, city_security):
    listing = city_security.get("/roles/list/").get_data(as_text=True)
    for code, title in (("community_staff", "社区工作人员"), ("audit_admin", "审计管理员"),
                        ("city_admin", "市退管中心管理员")):
        assert title in listing and code not in listing, code
    rid = _ids(secure_app, "district_admin")[0]
    show = city_security.get(f"/roles/show/{rid}")
    assert show.status_code == 200
    assert "区退管中心管理员" in show.get_data(as_text=True)


def test_users_cli_names_an_unknown_role_in_chinese_and_lists_the_roles(secure_app):
    """The role codes are checked once the plugins have added theirs; ``users roles``
    lists them with their Chinese titles."""
    result = cli(secure_app, "users", "grant", "d_cl", "--role", "mayor")
    assert result.exit_code != 0
    assert "没有角色 mayor" in result.output and "district_admin" in result.output
    assert "Traceback" not in result.output
    assert _roles(secure_app, "d_cl") == ["district_admin"]
    listed = cli(secure_app, "users", "roles")
    assert listed.exit_code == 0
    assert "security_admin\t安全管理员" in listed.output
