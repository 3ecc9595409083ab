"""Access: separation of duties between the security administrator, the audit
administrator and the business roles; a district's security administrator manages only
its users and grants no role above their own; every scoped model — core's and every
plugin's, found automatically — stays scoped on every view and API."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select

from core.security import ROLE_LEVELS, ROLE_RANK, ROLES
from tests.security.conftest import csrf_token, get_user

USER_ADMIN = ("can_add", "RegionUserDBModelView")
USER_RESET = ("can_this_form_post", "ResetPasswordView")
RETIREE_EDIT = ("can_edit", "RetireeModelView")
RETIREE_READ = ("can_list", "RetireeModelView")
AUDIT_READ = ("can_list", "AuditEntryView")


def allowed(app, role: str, permission: tuple[str, str]) -> bool:
    with app.app_context():
        return app.appbuilder.sm._has_access_builtin_roles(
            app.appbuilder.sm.find_role(role), *permission)


def test_every_declared_role_has_a_rank_and_levels():
    assert set(ROLES) == set(ROLE_RANK) == set(ROLE_LEVELS)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_no_role_both_administers_users_and_edits_retirees(app, role):
    admin = allowed(app, role, USER_ADMIN) or allowed(app, role, USER_RESET)
    assert not (admin and allowed(app, role, RETIREE_EDIT)), role


def test_security_admin_manages_users_and_sees_no_retiree_nor_audit(app):
    assert allowed(app, "security_admin", USER_ADMIN)
    assert allowed(app, "security_admin", USER_RESET)
    assert allowed(app, "security_admin", ("can_unlock", "RegionUserDBModelView"))
    for perm in (RETIREE_READ, RETIREE_EDIT, AUDIT_READ, ("can_edit", "RoleModelView")):
        assert not allowed(app, "security_admin", perm), perm


def test_audit_admin_reads_the_trail_and_changes_nothing(app):
    assert allowed(app, "audit_admin", AUDIT_READ)
    assert allowed(app, "audit_admin", ("can_export", "AuditEntryView"))
    for perm in [("can_add", "AuditEntryView"), ("can_edit", "AuditEntryView"),
                 ("can_delete", "AuditEntryView"), RETIREE_READ, USER_ADMIN,
                 ("can_switch", "PluginManagerView")]:
        assert not allowed(app, "audit_admin", perm), perm


@pytest.mark.parametrize("role", sorted(set(ROLES) - {"audit_admin"}))
def test_only_the_audit_admin_reads_the_audit_trail(app, role):
    assert not allowed(app, role, AUDIT_READ)


def test_business_roles_do_not_reach_the_user_screens(app):
    for role in ("system_admin", "city_admin", "district_admin", "street_staff",
                 "community_staff", "supervisor"):
        for perm in (USER_ADMIN, ("can_list", "RegionUserDBModelView"), USER_RESET):
            assert not allowed(app, role, perm), (role, perm)


# --- user administration by a district's security administrator ---------------------------

@pytest.fixture
def district_security(secure_app, make_user, login_as):
    make_user("sec_cl", "security_admin", "320502")
    return login_as("sec_cl")


def _ids(app, *names):
    from flask_appbuilder.security.sqla.models import Role

    from core.extensions import db
    from core.regions import Region

    with app.app_context():
        out = []
        for name in names:
            if name.isdigit():
                out.append(db.session.scalar(select(Region.id).where(Region.code == name)))
            else:
                out.append(db.session.scalar(select(Role.id).where(Role.name == name)))
        return out


def test_district_security_admin_lists_only_own_district_users(secure_app, district_security):
    page = district_security.get("/users/list/?psize_RegionUserDBModelView=100")
    text = page.get_data(as_text=True)
    for inside in ("d_cl", "s_cl1", "c_cl11"):
        assert f">{inside}<" in text, inside
    for outside in ("d_pj", "c_pj11", "city", "admin"):
        assert f">{outside}<" not in text, outside
    other = get_user(secure_app, "c_pj11").id
    assert district_security.get(f"/users/show/{other}").status_code == 404
    assert district_security.get(f"/users/edit/{other}").status_code == 404
    assert district_security.get(f"/resetpassword/form?pk={other}").status_code == 404


def test_district_security_admin_cannot_act_on_other_districts_users(secure_app,
                                                                      district_security):
    other = get_user(secure_app, "c_pj11").id
    token = csrf_token(district_security, "/users/list/")
    assert district_security.post(f"/users/action/unlock/{other}",
                                  data={"csrf_token": token}).status_code == 404
    response = district_security.post("/users/action_post", data={
        "csrf_token": token, "action": "unlock", "rowid": [str(other)]})
    assert response.status_code == 404


def _add_user(client, app, role: str, region: str, username: str = "newbie"):
    region_id, role_id = _ids(app, region, role)
    return client.post("/users/add", data={
        "csrf_token": csrf_token(client, "/users/add"), "username": username,
        "first_name": "新", "last_name": "人", "email": f"{username}@example.invalid",
        "region": region_id, "roles": role_id, "active": "y", "password": "Start@2024pw",
        "conf_password": "Start@2024pw"}, follow_redirects=True)


def test_district_security_admin_creates_users_in_own_district(secure_app, district_security):
    _add_user(district_security, secure_app, "community_staff", "320502001001")
    user = get_user(secure_app, "newbie")
    assert user.must_change_password


@pytest.mark.parametrize(("role", "region"), [
    ("city_admin", "320500"),          # a role above their own? no: city-level region
    ("system_admin", "320500"),        # above their own rank
    ("community_staff", "320503001001"),  # another district
    ("district_admin", "320503"),      # another district
])
def test_district_security_admin_cannot_grant_outside_district_or_above_rank(
        secure_app, district_security, role, region):
    _add_user(district_security, secure_app, role, region)
    assert get_user(secure_app, "newbie") is None


def test_nobody_grants_a_role_ranked_above_their_own(secure_app, make_user, login_as):
    make_user("sec_city", "security_admin", "320500")
    client = login_as("sec_city")
    _add_user(client, secure_app, "system_admin", "320500")
    assert get_user(secure_app, "newbie") is None
    _add_user(client, secure_app, "city_admin", "320500")
    assert [r.name for r in get_user(secure_app, "newbie").roles] == ["city_admin"]


def test_security_admin_cannot_edit_themselves_into_a_higher_role(secure_app, make_user,
                                                                   district_security):
    me = get_user(secure_app, "sec_cl")
    city_region, sysadmin, district_admin = _ids(secure_app, "320500", "system_admin",
                                                 "district_admin")
    for roles, region in ((sysadmin, me.region_id), (district_admin, me.region_id),
                          (None, city_region)):
        path = f"/users/edit/{me.id}"
        district_security.post(path, data={
            "csrf_token": csrf_token(district_security, path), "username": "sec_cl",
            "first_name": "sec_cl", "last_name": "", "email": me.email,
            "region": region, "roles": roles or _ids(secure_app, "security_admin")[0],
            "active": "y"}, follow_redirects=True)
        after = get_user(secure_app, "sec_cl")
        assert [r.name for r in after.roles] == ["security_admin"]
        assert after.region_id == me.region_id


def test_district_security_admin_cannot_touch_a_higher_ranked_user(secure_app, make_user,
                                                                   district_security):
    make_user("sec_boss", "system_admin", "320500")
    boss = get_user(secure_app, "sec_boss").id
    assert district_security.get(f"/users/edit/{boss}").status_code == 404


def test_users_are_never_deleted(secure_app, make_user, login_as):
    make_user("sec", "security_admin", "320500")
    client = login_as("sec")
    uid = get_user(secure_app, "c_cl11").id
    token = csrf_token(client, "/users/list/")
    client.post(f"/users/delete/{uid}", data={"csrf_token": token})
    assert get_user(secure_app, "c_cl11").id == uid


# --- scoping of every scoped model, found automatically ----------------------------------

def _scoped_views(app):
    from flask_appbuilder import ModelView
    from flask_appbuilder.api import ModelRestApi

    from core.scoping import Scoped

    for view in app.appbuilder.baseviews:
        model = getattr(getattr(view, "datamodel", None), "obj", None)
        if isinstance(view, ModelView | ModelRestApi) and isinstance(model, type) \
                and issubclass(model, Scoped):
            yield view, model


def test_every_view_and_api_of_a_scoped_model_uses_the_scoped_base_classes(app):
    from core.views.base import ScopedInterface, ScopedModelRestApi, ScopedModelView

    found = list(_scoped_views(app))
    models = {m.__name__ for _, m in found}
    assert {"Retiree", "ReleaseRequest"} <= models
    assert any(m.__module__.startswith(("plugins.", "districts.")) for m in
               (m for _, m in found)), "no plugin model found: is the matrix automatic?"
    wrong = [f"{type(v).__name__} ({m.__name__})" for v, m in found
             if not isinstance(v, ScopedModelView | ScopedModelRestApi)
             or not isinstance(v.datamodel, ScopedInterface)]
    assert wrong == []


def test_every_scoped_model_is_filtered_on_every_query(app):
    """For each scoped model (core and plugins): a SELECT run in a district's scope
    carries that scope into the SQL; run unscoped it does not."""
    from core.extensions import db
    from core.scoping import scoped_classes, scoped_to, unscoped

    prefix = "/320500/320503/"
    with app.app_context():
        classes = scoped_classes()
        assert len(classes) >= 5
        seen: list = []

        class Captured(Exception):
            pass

        @event.listens_for(db.engine, "before_cursor_execute")
        def capture(conn, cursor, statement, parameters, context, executemany):
            seen.append(str(parameters))
            raise Captured  # the SQL is what counts; the table need not exist

        def params_of(cls) -> str:
            seen.clear()
            try:
                db.session.execute(select(cls).limit(1))
            except Exception as exc:  # wrapped by SQLAlchemy
                if "Captured" not in repr(exc) and not isinstance(exc, Captured):
                    raise
            db.session.rollback()
            return " ".join(seen)

        try:
            unfiltered = []
            for cls in classes:
                with scoped_to(prefix):
                    if prefix not in params_of(cls):
                        unfiltered.append(cls.__name__)
                with unscoped():
                    assert prefix not in params_of(cls)
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        assert unfiltered == []
