"""Screens of authentication and user administration.

* ``LoginView``: one answer for an unknown user, a locked user, a wrong password or a
  wrong TOTP code; a fresh session on success; logout by POST only (CSRF-checked).
* ``ChangeOwnPasswordView``: the user's own change (current password asked), also the
  forced change at first login and after expiry.
* ``ResetUserPasswordView``: an administrator's reset, for users they manage; the new
  password must be changed at first login.
* ``TotpView``: enrol in or leave the TOTP second factor.
* ``RegionUserDBModelView``: users of the administrator's own region subtree only;
  roles up to the administrator's own rank; nobody edits their own roles or region;
  the separation of duties (``core.auth.duties``). In Chinese: 登录名, one 姓名, an
  optional e-mail, roles by their Chinese names.
"""
from __future__ import annotations

from flask import abort, flash, g, redirect, request, session, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.fields import QuerySelectMultipleField
from flask_appbuilder.fieldwidgets import (
    BS3PasswordFieldWidget,
    BS3TextFieldWidget,
    Select2ManyWidget,
)
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.sqla.filters import FilterInFunction
from flask_appbuilder.security.decorators import no_cache
from flask_appbuilder.security.forms import LoginForm_db
from flask_appbuilder.security.views import (
    AuthDBView,
    ResetMyPasswordView,
    ResetPasswordView,
    UserDBModelView,
)
from flask_appbuilder.security.views import RoleModelView as FabRoleModelView
from flask_appbuilder.widgets import ListWidget, ShowWidget
from flask_login import login_user, logout_user
from werkzeug.security import check_password_hash
from wtforms import PasswordField, StringField, ValidationError
from wtforms.validators import DataRequired, EqualTo, Optional, Regexp

from core.auth import duties, policy, sessions, totp
from core.auth.lockout import unlock
from core.auth.users import shown_email, stored_email
from core.auth.web import safe_next
from core.errors import RuleViolation
from core.views.base import display_value

FAILED_LOGIN = "登录失败：用户名、密码或动态验证码不正确，或账户已被临时锁定。请稍后再试或联系管理员。"


class LoginForm(LoginForm_db):
    totp = StringField("动态验证码", validators=[Optional()],
                       description="已启用双因素认证的用户填写手机验证器上的6位数字")


class LoginView(AuthDBView):
    login_template = "ra_login.html"
    invalid_login_message = FAILED_LOGIN

    def _index(self) -> str:
        return self.appbuilder.get_url_for_index

    @expose("/login/", methods=["GET", "POST"])
    @no_cache
    def login(self):
        if g.user is not None and g.user.is_authenticated:
            return redirect(safe_next(request.args.get("next"), self._index()))
        form = LoginForm()
        if form.validate_on_submit():
            next_url = safe_next(request.args.get("next"), self._index())
            user = self.appbuilder.sm.auth_user_db(form.username.data, form.password.data,
                                                   totp_code=form.totp.data)
            if not user:
                flash(FAILED_LOGIN, "warning")
                return redirect(self.appbuilder.get_url_for_login_with(next_url))
            sessions.start(user.id)
            login_user(user, remember=False)
            return redirect(next_url)
        return self.render_template(self.login_template, title=self.title, form=form,
                                    appbuilder=self.appbuilder)

    @expose("/logout/", methods=["POST"])
    def logout(self):
        user = self._get_authenticated_user()
        logout_user()
        session.clear()
        if user is not None:
            self.appbuilder.sm.on_user_logout(user)
        return redirect(self.appbuilder.get_url_for_login)


# --- passwords -------------------------------------------------------------------------

def _own_username() -> str | None:
    return getattr(g.get("user"), "username", None)


class OwnPasswordForm(DynamicForm):
    current = PasswordField("当前密码", validators=[DataRequired()],
                            widget=BS3PasswordFieldWidget())
    password = PasswordField("新密码", validators=[
        DataRequired(), policy.PasswordPolicy(username=_own_username)],
        widget=BS3PasswordFieldWidget(),
        description="至少8位，含大写字母、小写字母、数字、其他字符中的3类，不含用户名")
    conf_password = PasswordField("确认新密码", validators=[
        EqualTo("password", message="两次输入的密码不一致")], widget=BS3PasswordFieldWidget())


class ChangeOwnPasswordView(ResetMyPasswordView):
    """The user's own change; the forced change at first login or after expiry."""

    class_permission_name = "ResetMyPasswordView"
    form = OwnPasswordForm
    form_title = "修改密码"
    message = "密码已修改"

    def form_get(self, form) -> None:
        user = self.appbuilder.sm.get_user_by_id(g.user.id)
        if user.must_change_password:
            flash("初始密码或重置后的密码须先修改才能继续使用系统。", "warning")
        elif policy.expired(user):
            flash("密码已超过有效期，请修改密码。", "warning")

    def form_post(self, form):
        user = self.appbuilder.sm.get_user_by_id(g.user.id)
        if not check_password_hash(user.password or "", form.current.data or ""):
            flash("当前密码不正确", "danger")
            return redirect(url_for(".this_form_get"))
        if check_password_hash(user.password or "", form.password.data):
            flash("新密码不能与当前密码相同", "danger")
            return redirect(url_for(".this_form_get"))
        try:
            self.appbuilder.sm.reset_password(user.id, form.password.data)
        except RuleViolation as exc:
            flash(exc.message, "danger")
            return redirect(url_for(".this_form_get"))
        flash(self.message, "info")
        return redirect(self.appbuilder.get_url_for_index)


def _target_username() -> str | None:
    user = managed_user(request.args.get("pk"))
    return user.username


class ResetForm(DynamicForm):
    password = PasswordField("新密码", validators=[
        DataRequired(), policy.PasswordPolicy(username=_target_username)],
        widget=BS3PasswordFieldWidget(), description="用户首次登录时须修改此密码")
    conf_password = PasswordField("确认新密码", validators=[
        EqualTo("password", message="两次输入的密码不一致")], widget=BS3PasswordFieldWidget())


class ResetUserPasswordView(ResetPasswordView):
    """An administrator's reset of another user's password (users they manage only)."""

    class_permission_name = "ResetPasswordView"
    form = ResetForm
    form_title = "重置用户密码"

    def form_get(self, form) -> None:
        managed_user(request.args.get("pk"))

    def form_post(self, form):
        user = managed_user(request.args.get("pk"))
        try:
            self.appbuilder.sm.reset_password(user.id, form.password.data)
        except RuleViolation as exc:
            flash(exc.message, "danger")
            return redirect(url_for(".this_form_get", pk=user.id))
        flash(f"已重置用户 {user.username} 的密码；该用户首次登录时须修改密码", "info")
        return redirect(url_for(f"{self.appbuilder.sm.user_view.endpoint}.list"))


# --- TOTP --------------------------------------------------------------------------------

class TotpForm(DynamicForm):
    code = StringField("验证码", validators=[DataRequired()], widget=BS3TextFieldWidget())


class TotpView(BaseView):
    """The secret being enrolled waits in ``totp_pending`` (server-side, encrypted), and
    every code is taken once (issue #12 item 15)."""

    route_base = "/totp"
    default_view = "setup"

    @expose("/", methods=["GET", "POST"])
    @has_access
    def setup(self):
        from core.audit.trail import record
        from core.extensions import db

        sm = self.appbuilder.sm
        user = sm.get_user_by_id(g.user.id)
        form = TotpForm()
        if request.method == "POST" and form.validate_on_submit():
            if request.form.get("op") == "disable":
                if totp.required(user):
                    flash("您的角色必须使用双因素认证，不能停用", "danger")
                elif totp.accept(user, form.code.data):
                    user.totp_secret = None
                    db.session.commit()
                    record("totp", object_type="RegionUser", object_id=user.id,
                           detail={"enabled": False})
                    flash("已停用双因素认证", "info")
                else:
                    flash("验证码不正确", "danger")
                return redirect(url_for(".setup"))
            step = totp.matching_step(user.totp_pending, form.code.data)
            if step is not None:
                user.totp_secret, user.totp_pending = user.totp_pending, None
                user.totp_last_step = step
                db.session.commit()
                record("totp", object_type="RegionUser", object_id=user.id,
                       detail={"enabled": True})
                flash("已启用双因素认证；以后登录时请输入验证器上的动态验证码", "info")
                return redirect(self.appbuilder.get_url_for_index)
            flash("验证码不正确，请核对手机时间后重试", "danger")
        secret = None
        if not user.totp_secret:
            secret = user.totp_pending
            if secret is None:
                secret = user.totp_pending = totp.new_secret()
                db.session.commit()
            if totp.required(user):
                flash("您的角色必须启用双因素认证后才能继续使用系统。", "warning")
        return self.render_template(
            "ra_totp.html", form=form, enabled=bool(user.totp_secret), secret=secret,
            uri=totp.provisioning_uri(secret, user.username) if secret else None)


# --- users -------------------------------------------------------------------------------

def manageable_roles() -> list[str]:
    """Roles the current administrator may grant: none ranked above their own, and not
    the system or audit administrator (MLPS level 3: ``core.auth.duties``)."""
    from core.security import ROLE_RANK, user_rank

    rank = user_rank(g.get("ra_user"))
    return duties.grantable(name for name, r in ROLE_RANK.items() if r <= rank)


def _manageable_role_rows():
    from flask_appbuilder.security.sqla.models import Role
    from sqlalchemy import select

    from core.extensions import db

    return db.session.scalars(select(Role).where(Role.name.in_(manageable_roles()))
                              .order_by(Role.name)).all()


NOT_MANAGED = "三员分立：安全管理员不能查看、修改、停用、重置密码或解锁系统管理员和审计管理员的账户"


def managed_user(pk):
    """A user the current administrator manages (own subtree, rank not above own), or 404."""
    from core.extensions import db
    from core.scoping import current_scope, path_in_scope, unscoped
    from core.security import RegionUser, user_rank, user_region_path

    if pk is None or not str(pk).isdigit():
        abort(404)
    with unscoped():
        user = db.session.get(RegionUser, int(pk))
        path = user_region_path(user) if user is not None else None
    me = g.get("ra_user")
    if user is None or me is None or not path_in_scope(path, current_scope()) \
            or user_rank(user) > user_rank(me):
        abort(404)
    if not duties.may_manage(user):
        abort(403, description=NOT_MANAGED)
    return user


def _scoped_user_ids():
    from flask_appbuilder.security.sqla.models import Role, assoc_user_role
    from sqlalchemy import select

    from core.regions import Region
    from core.scoping import current_scope
    from core.security import ROLE_RANK, RegionUser, user_rank

    # Users of the subtree only (the region scope also shows ancestors' names), none
    # ranked above the administrator, and not the system or audit administrators: the
    # list offers only the users managed_user lets through (issue 14 item 2: no link to
    # a 404 or a 403).
    regions = select(Region.id)
    prefix = current_scope()
    if prefix is not None:
        regions = regions.where(Region.region_path.startswith(prefix, autoescape=True))
    users = select(RegionUser.id).where(RegionUser.region_id.in_(regions))
    me = g.get("ra_user")
    above = [name for name, rank in ROLE_RANK.items() if rank > user_rank(me)] if me else []
    above += sorted(duties.NOT_MANAGED_BY_SECURITY)
    if above:
        ranked = select(assoc_user_role.c.user_id).join(
            Role, Role.id == assoc_user_role.c.role_id).where(Role.name.in_(above))
        users = users.where(RegionUser.id.not_in(ranked))
    return users


# The shape of an address only: the system sends no mail, and email_validator would
# refuse the reserved domains (.invalid, .test) that test and demo accounts use.
EMAIL_FORMAT = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def _role_label(role) -> str:
    return duties.role_title(role.name)


class RolesField(QuerySelectMultipleField):
    """FAB's field looks for ids outside its choices before it has read them, so a role
    the administrator may not grant was silently dropped and the rest saved: read them
    first, and refuse the whole form."""

    def pre_validate(self, form) -> None:
        self.data  # noqa: B018  (reading the data marks ids outside the choices)
        if self._invalid_formdata:
            raise ValidationError("所选角色中有您不能授予的角色（只能授予不高于本人的角色，"
                                  "系统管理员和审计管理员由运维人员用命令行创建）")
        super().pre_validate(form)


class RegionUserDBModelView(UserDBModelView):
    list_title = "用户列表"
    show_title = "用户详情"
    add_title = "新建用户"
    edit_title = "修改用户"
    list_columns = ["username", "first_name", "region", "roles_label", "active",
                    "locked_label"]
    search_columns = ["username", "first_name", "region", "active"]
    add_columns = ["username", "first_name", "email", "region", "roles", "active",
                   "password", "conf_password"]
    edit_columns = ["username", "first_name", "email", "region", "roles", "active"]
    show_fieldsets = [
        ("用户", {"fields": ["username", "first_name", "email_label", "active"]}),
        ("权限", {"fields": ["region", "roles_label"]}),
        ("登录安全", {"fields": ["login_count", "last_login", "fail_login_count",
                             "locked_label", "password_changed_at", "must_change_password",
                             "totp_label"]}),
    ]
    # "我的信息" (FAB's userinfo) shows the user's own account in the same Chinese terms;
    # FAB's default names "roles" and "last_name", which the show widget no longer has.
    user_info_title = "我的信息"
    # Moments to the minute, empty as "—", boxes as 是/否 (issue 14 item 4).
    formatters_columns = {c: display_value for c in (
        "last_login", "password_changed_at", "active", "must_change_password", "email_label",
        "login_count", "fail_login_count")}
    user_show_fieldsets = [
        ("用户", {"fields": ["username", "first_name", "email_label", "region",
                           "roles_label"]}),
        ("登录安全", {"fields": ["login_count", "last_login", "password_changed_at",
                             "totp_label"], "expanded": True}),
    ]
    label_columns = {"username": "登录名", "first_name": "姓名", "email": "电子邮箱（选填）",
                     "email_label": "电子邮箱", "region": "所属区域", "roles": "角色",
                     "roles_label": "角色", "active": "启用", "login_count": "登录次数",
                     "last_login": "最近登录时间", "locked_label": "锁定",
                     "totp_label": "双因素认证", "password_changed_at": "密码修改时间",
                     "must_change_password": "须修改密码", "fail_login_count": "连续失败次数",
                     "password": "初始密码", "conf_password": "确认初始密码"}
    description_columns = {
        "username": "登录时使用，全系统唯一",
        "first_name": "用户的中文姓名，如：张秀英",
        "email": "可不填",
        "region": "用户只能看到和管理该区域及其下级区域的数据",
        "roles": "三员分立：系统管理员、安全管理员、审计管理员只能担任其一，且不能兼任业务角色",
        "active": "不再使用的账户请停用（取消勾选），不要删除",
    }
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_userinfo",
                        "can_resetmypassword", "can_resetpasswords", "can_unlock"]
    # FAB's validator reads a "groups" field these forms do not have (KeyError → 500).
    validators_columns: dict = {}
    # FAB's own fields carry English labels and descriptions; these replace them. The
    # roles box lists Chinese role names, only the roles the administrator may grant.
    edit_form_extra_fields = {
        "email": StringField("电子邮箱（选填）", description="可不填",
                             validators=[Optional(), Regexp(EMAIL_FORMAT, message="电子邮箱格式不正确")],
                             widget=BS3TextFieldWidget()),
        "roles": RolesField(
            "角色", query_func=_manageable_role_rows, get_pk_func=lambda r: r.id,
            get_label=_role_label, widget=Select2ManyWidget(),
            description=description_columns["roles"],
            validators=[DataRequired(message="请选择角色（只能授予不高于本人的角色）")]),
    }
    add_form_extra_fields = edit_form_extra_fields | {
        "password": PasswordField(
            "初始密码", widget=BS3PasswordFieldWidget(),
            description="至少8位，含大写字母、小写字母、数字、其他字符中的3类，不含登录名；"
                        "用户首次登录时须修改",
            validators=[DataRequired(message="请填写初始密码")]),
        "conf_password": PasswordField(
            "确认初始密码", widget=BS3PasswordFieldWidget(),
            validators=[EqualTo("password", message="两次输入的密码不一致")]),
    }
    # Users attached to a region of the administrator's subtree (FAB honours base_filters
    # on list, show, edit; actions are checked below).
    base_filters = [["id", FilterInFunction, _scoped_user_ids]]

    def prefill_form(self, form, pk) -> None:
        form.email.data = shown_email(form.email.data)

    def _check(self, item, is_new: bool) -> None:
        from sqlalchemy import inspect

        from core.regions import LEVEL_LABELS
        from core.scoping import current_scope, path_in_scope
        from core.security import ROLE_LEVELS, ROLE_RANK, user_rank

        me = g.get("ra_user")
        if me is None:
            abort(403)
        if not is_new and item.id == me.id:
            state = inspect(item)
            if any(state.attrs[k].history.has_changes() for k in ("roles", "region", "active")):
                raise RuleViolation("不能修改自己的角色、所属区域或启用状态")
        if item.region is None or not path_in_scope(item.region.region_path, current_scope()):
            raise RuleViolation("只能管理本辖区的用户", "region")
        mine = user_rank(me)
        if not is_new:
            before = inspect(item).attrs.roles.history
            if any(ROLE_RANK.get(r.name, 10 ** 6) > mine
                   for r in [*before.unchanged, *before.deleted]):
                raise RuleViolation("不能修改角色高于本人的用户", "roles")
        for role in item.roles:
            if ROLE_RANK.get(role.name, 10 ** 6) > mine or role.name not in manageable_roles():
                raise RuleViolation(f"不能授予角色：{duties.role_title(role.name)}", "roles")
            levels = ROLE_LEVELS.get(role.name, ())
            if item.region.level not in levels:
                raise RuleViolation(
                    f"角色“{duties.role_title(role.name)}”只能分配到以下级别的区域："
                    f"{'、'.join(LEVEL_LABELS.get(v, v) for v in levels)}", "region")
        duties.check_duties(item)
        self._check_identity(item)

    def _check_identity(self, item) -> None:
        """One 姓名 in ``first_name``; an empty e-mail stored as the placeholder, a given
        one unique (FAB's unique check is on the model field these forms replace)."""
        from sqlalchemy import func, select

        from core.extensions import db
        from core.security import RegionUser

        item.first_name = (item.first_name or "").strip()
        if not item.first_name:
            raise RuleViolation("请填写姓名", "first_name")
        item.last_name = ""
        item.email = stored_email(item.username, item.email)
        with db.session.no_autoflush:
            taken = db.session.scalar(select(func.count()).select_from(RegionUser).where(
                RegionUser.email == item.email, RegionUser.id != (item.id or 0)))
        if taken:
            raise RuleViolation("该电子邮箱已被其他用户使用", "email")

    def _refuse_unsaved(self, item, is_new: bool) -> None:
        """A refusal leaves nothing pending in the session: FAB flashes the message and
        the request's later commits must not write the refused change."""
        from core.extensions import db

        try:
            self._check(item, is_new)
        except RuleViolation:
            db.session.rollback()
            raise

    def pre_add(self, item) -> None:
        policy.check(item.password, item.username)
        self._refuse_unsaved(item, True)
        super().pre_add(item)
        from datetime import datetime

        from flask import current_app

        item.password_changed_at = datetime.now()
        item.must_change_password = bool(current_app.config["PASSWORD_CHANGE_AT_FIRST_LOGIN"])

    def pre_update(self, item) -> None:
        self._refuse_unsaved(item, False)
        super().pre_update(item)

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        managed_user(pk)
        return super().show(pk)

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        managed_user(pk)
        return super().edit(pk)

    @action("resetpasswords", "重置密码", "", "fa-lock", multiple=False)
    def resetpasswords(self, item):
        managed_user(item.id)
        return redirect(url_for(self.appbuilder.sm.resetpasswordview.__name__
                                + ".this_form_get", pk=item.id))

    @action("unlock", "解除锁定", "解除该用户的登录锁定？", "fa-unlock", multiple=False)
    def unlock(self, item):
        from core.audit.trail import record
        from core.extensions import db

        user = managed_user(item.id)
        unlock(user)
        db.session.commit()
        record("unlock", object_type="RegionUser", object_id=user.id,
               detail={"username": user.username})
        flash(f"已解除用户 {user.username} 的锁定", "info")
        return redirect(url_for(".show", pk=user.id))

    # Overrides must be exposed again, or FAB registers no route for them.
    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        managed_user(pk)
        return super().action(name, pk)

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        for pk in request.form.getlist("rowid"):
            managed_user(pk)
        return super().action_post()


class RoleModelView(FabRoleModelView):
    """Roles (read-only for the security administrator) by their Chinese names: FAB's
    role widgets print the role codes. Same class name: same permissions and routes."""

    list_title = "角色列表"
    show_title = "角色详情"
    list_widget = ListWidget
    show_widget = ShowWidget
    list_columns = ["name"]
    show_columns = ["name", "permissions"]
    label_columns = {"name": "角色", "permissions": "权限（系统标识）"}
    formatters_columns = {"name": duties.role_title}
