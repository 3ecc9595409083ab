"""Users, roles and access checks.

Every user belongs to one region node (A6) and sees that node's subtree. Roles are
declared here as data (``ROLES``: view-name and permission-name patterns, FAB's builtin
roles) and written to the database by ``retiree-admin init``; permission checks against
them need no query. ``RetireeSecurityManager.has_access`` adds the per-district plugin
switch: a plugin's views, APIs and menus are refused and hidden where it is off.

Separation of duties (MLPS 2.0 level 3): ``security_admin`` administers users, roles and
locks and sees no retiree; ``audit_admin`` reads the audit trail and changes nothing; the
business roles administer no user. Authentication (lockout, one answer for every
failure, TOTP) is ``RetireeSecurityManager.auth_user_db``; see ``core.auth``.
"""
from __future__ import annotations

from datetime import datetime

from flask import current_app, g, has_request_context
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import User as FabUser
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, false
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from core.auth.api import RetireeSecurityApi
from core.auth.models import PasswordHistory  # noqa: F401  (its table, for migrations)
from core.auth.secrets import EncryptedString
from core.auth.views import (
    ChangeOwnPasswordView,
    LoginView,
    RegionUserDBModelView,
    ResetUserPasswordView,
    RoleModelView,
)


class RegionUser(FabUser):
    """A FAB user attached to a node of the region tree (A6)."""

    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    region = relationship("Region", lazy="joined")
    # Authentication state (core.auth): lockout, password age, forced change, TOTP.
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false())
    totp_secret: Mapped[str | None] = mapped_column(EncryptedString)
    # Enrolment in progress: kept here, not in the readable session cookie (item 15).
    totp_pending: Mapped[str | None] = mapped_column(EncryptedString)
    # The last accepted time step: a code is never accepted twice (item 15).
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # Bumped on logout, password change, lock and disable: every session and token
    # carrying an older value ends (core.auth.sessions, item 14).
    session_epoch: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                               server_default="0")

    @property
    def locked_label(self) -> str:
        from core.auth.lockout import is_locked

        return f"锁定至 {self.locked_until:%Y-%m-%d %H:%M}" if is_locked(self) else "否"

    @property
    def totp_label(self) -> str:
        return "已启用" if self.totp_secret else "未启用"

    @property
    def roles_label(self) -> str:
        from core.auth.users import roles_label

        return roles_label(self)

    @property
    def email_label(self) -> str:
        from core.auth.users import shown_email

        return shown_email(self.email)


ROLE_TITLES = {
    "system_admin": "系统管理员",
    "city_admin": "市退管中心管理员",
    "district_admin": "区退管中心管理员",
    "street_staff": "街道工作人员",
    "community_staff": "社区工作人员",
    "supervisor": "督查人员",
    "security_admin": "安全管理员",
    "audit_admin": "审计管理员",
}
# The lowest region level each role may be attached to, and the highest.
ROLE_LEVELS = {
    "system_admin": ("city",),
    "city_admin": ("city",),
    "district_admin": ("district",),
    "street_staff": ("street",),
    "community_staff": ("community",),
    "supervisor": ("city", "district", "street", "community"),
    "security_admin": ("city", "district"),
    "audit_admin": ("city",),
}
# Who may grant what: an administrator grants roles ranked at most as high as their own.
ROLE_RANK = {
    "system_admin": 50,
    "security_admin": 40,
    "audit_admin": 40,
    "city_admin": 30,
    "district_admin": 20,
    "supervisor": 10,
    "street_staff": 10,
    "community_staff": 10,
}

# FAB's security screens and their menu names: only the security administrator.
_SECURITY = (r"(User|RegionUser|Role|Permission|ViewMenu|Group|RegisterUser|ApiKey"
             r"|ResetPassword)\w*"
             r"|List .*|Security|User's Statistics|Base Permissions|Views/Menus"
             r"|Permission on Views/Menus")
# The audit trail: only the audit administrator.
_AUDIT = r"AuditEntryView|审计日志|安全审计"
# Screens that change the platform itself: the region tree and the plugin switches.
_PLATFORM = r"Region(?!User)\w*|PluginManager\w*|区域管理|插件管理|区域树"
_READ = (r"can_list|can_show|can_get|can_info|menu_access|can_tree|can_download"
         r"|can_dashboard|can_chart\w*|can_print\w*|can_ledger|can_history")
_SELF_SERVICE = [
    ["UserDBModelView|RegionUserDBModelView", "can_userinfo|can_resetmypassword"],
    ["UserInfoEditView|ResetMyPasswordView", "can_this_form_get|can_this_form_post"],
    ["TotpView", "can_setup|menu_access"],
]
# Reference data (issue #12): enterprises and agencies are read by streets and
# communities and changed by city and district staff (core.registry.reference).
_REFERENCE = r"EnterpriseModelView|EnterpriseApi|EmploymentAgencyModelView"
# A33: releasing data is approved at city or district level only.
_NOT_APPROVE = r"^(?!can_approve$|can_reject$).*$"
_BUSINESS = rf"^(?!(?:{_SECURITY}|{_AUDIT})$).*$"


def _staff(extra=()):
    return [
        [rf"^(?!(?:{_SECURITY}|{_AUDIT}|{_PLATFORM}|{_REFERENCE})$).*$", _NOT_APPROVE],
        [rf"^(?:{_PLATFORM}|{_REFERENCE})$", rf"^(?:{_READ})$"],
        *_SELF_SERVICE,
        *extra,
    ]


ROLES: dict[str, list[list[str]]] = {
    "system_admin": [[_BUSINESS, ".*"], *_SELF_SERVICE],
    "city_admin": [[_BUSINESS, ".*"], *_SELF_SERVICE],
    "district_admin": [[_BUSINESS, ".*"], *_SELF_SERVICE],
    "street_staff": _staff(),
    "community_staff": _staff(),
    "supervisor": [[_BUSINESS, rf"^(?:{_READ})$"], *_SELF_SERVICE],
    "security_admin": [
        [r"^(?:RegionUserDBModelView|UserDBModelView|List Users|Security)$", ".*"],
        [r"^(?:ResetPasswordView)$", "can_this_form_get|can_this_form_post"],
        [r"^(?:RoleModelView|List Roles)$", r"^(?:can_list|can_show|menu_access)$"],
        *_SELF_SERVICE,
    ],
    "audit_admin": [[rf"^(?:{_AUDIT})$", rf"^(?:{_READ}|can_export)$"], *_SELF_SERVICE],
}


_PLUGIN_ROLES: set[str] = set()
# Plugin role → the demo login ``retiree-admin demo`` makes for it (RoleSpec.demo_login).
DEMO_LOGINS: dict[str, str] = {}


def register_role(spec) -> None:
    """Add a plugin's role (a ``core.plugins.RoleSpec``) to the built-in roles, once per
    process or again with the same code; a core role is never replaced."""
    if spec.name in ROLE_TITLES and spec.name not in _PLUGIN_ROLES:
        raise ValueError(f"role {spec.name} is one of core's")
    _PLUGIN_ROLES.add(spec.name)
    ROLES[spec.name] = [list(p) for p in spec.permissions]
    ROLE_TITLES[spec.name] = spec.title
    ROLE_LEVELS[spec.name] = tuple(spec.levels)
    ROLE_RANK[spec.name] = spec.rank
    if spec.demo_login:
        DEMO_LOGINS[spec.name] = spec.demo_login


def user_region_path(user) -> str | None:
    region = getattr(user, "region", None)
    return region.region_path if region is not None else None


def role_names(user) -> set[str]:
    return {r.name for r in getattr(user, "roles", [])}


def user_rank(user) -> int:
    """The highest rank among the user's roles (0: none)."""
    return max((ROLE_RANK.get(name, 0) for name in role_names(user)), default=0)


class RetireeSecurityManager(SecurityManager):
    user_model = RegionUser
    userdbmodelview = RegionUserDBModelView
    authdbview = LoginView
    resetmypasswordview = ChangeOwnPasswordView
    resetpasswordview = ResetUserPasswordView
    rolemodelview = RoleModelView
    security_api = RetireeSecurityApi

    def register_views(self) -> None:
        """FAB rate-limits the form login only: limit the API login too."""
        super().register_views()
        if self.is_auth_limited:
            from flask_appbuilder.security.api import SecurityApi

            for view in self.appbuilder.baseviews:
                if isinstance(view, SecurityApi):
                    self.limiter.limit(self.auth_rate_limit, methods=["POST"])(view.blueprint)

    # --- authentication ---------------------------------------------------------------
    def auth_user_db(self, username, password, totp_code=None):
        """FAB's check plus the lockout and the TOTP code. An unknown user, a disabled
        one, a locked one, a wrong password and a wrong code all get None after the same
        work: one password hash check and one write (CVE-2025-24023)."""
        from core.audit.trail import record
        from core.auth import lockout, totp
        from core.scoping import unscoped

        if not username or not isinstance(username, str):
            return None
        fake = current_app.config["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"]
        password = password if isinstance(password, str) else ""
        with unscoped():
            first_user = self.get_first_user()
            user = self.find_user(username=username)
            if user is None:
                user = self.find_user(email=username)
            else:
                self.find_user(email=username)
        attempted = {"username": username[:64]}
        if user is None or not user.is_active or not password.strip("\x00"):
            check_password_hash(fake, password)
            if first_user is not None:
                self.noop_user_update(first_user)
            reason = "unknown_user" if user is None else (
                "inactive" if not user.is_active else "empty_password")
            record("login", "failure", "RegionUser", getattr(user, "id", None),
                   attempted | {"reason": reason}, actor=username[:64])
            return None
        now = datetime.now()
        lockout.clear_expired(user, now)
        locked = lockout.is_locked(user, now)
        ok = check_password_hash(user.password or fake, password) and not locked
        reason = "locked" if locked else "password"
        if ok and user.totp_secret and not totp.accept(user, totp_code):
            ok, reason = False, "totp"
        if ok:
            self.update_user_auth_stat(user, True)
            record("login", "success", "RegionUser", user.id, actor=user.username)
            return user
        user.fail_login_count = (user.fail_login_count or 0) + 1
        just_locked = lockout.lock_if_due(user, now)
        self.update_user(user)
        record("login", "failure", "RegionUser", user.id, attempted | {"reason": reason},
               actor=user.username)
        if just_locked:
            record("lockout", "success", "RegionUser", user.id,
                   {"until": user.locked_until.isoformat(sep=" ", timespec="minutes"),
                    "failures": user.fail_login_count}, actor=user.username)
        return None

    def on_user_logout(self, user) -> None:
        """Logout ends every session and token of the user (issue #12, item 14)."""
        from core.audit.trail import record
        from core.auth import sessions
        from core.extensions import db

        sessions.revoke(user)
        db.session.commit()
        record("logout", "success", "RegionUser", user.id, actor=user.username)

    # --- sessions (core.auth.sessions: the epoch, issue #12 item 14) ---------------------
    def create_login_manager(self, app):
        manager = super().create_login_manager(app)
        manager.user_loader(self.load_session_user)
        return manager

    def load_user(self, pk):
        """Active and not locked: a locked user's open sessions end too."""
        from core.auth.lockout import is_locked

        user = super().load_user(pk)
        return user if user is not None and not is_locked(user) else None

    def load_session_user(self, pk):
        from core.auth import sessions

        user = self.load_user(pk)
        if user is None or not sessions.current(user):
            sessions.end_revoked(pk)
            return None
        return user

    def load_user_jwt(self, _jwt_header, jwt_data):
        user = self.load_user(jwt_data["sub"])
        if user is None or jwt_data.get("ra_epoch") != user.session_epoch:
            return None
        g.user = user
        return user

    # --- passwords ----------------------------------------------------------------------
    def add_user(self, username, first_name, last_name, email, role, password="",
                 hashed_password="", groups=None):
        from core.auth import policy

        if password and not hashed_password:
            policy.check(password, username)
        user = super().add_user(username, first_name, last_name, email, role, password,
                                hashed_password, groups)
        if user:
            user.password_changed_at = datetime.now()
            policy.remember(user)
            self.update_user(user)
        return user

    def reset_password(self, userid, password) -> None:
        """A change by the user themself, or a reset by an administrator: then the new
        password must be changed at first login (PASSWORD_CHANGE_AT_FIRST_LOGIN)."""
        from core.auth import policy

        user = self.get_user_by_id(userid)
        policy.check(password, user.username)
        policy.check_not_reused(user, password)
        me = g.get("ra_user") or g.get("user")
        by_self = getattr(me, "id", None) == user.id
        user.password_changed_at = datetime.now()
        user.must_change_password = (not by_self
                                     and bool(current_app.config["PASSWORD_CHANGE_AT_FIRST_LOGIN"]))
        user.password = generate_password_hash(
            password=password,
            method=current_app.config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
            salt_length=current_app.config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16))
        policy.remember(user)
        self.update_user(user)
        if by_self and has_request_context():
            from core.auth import sessions

            sessions.stamp(user)   # the other sessions end, this one goes on

    def has_access(self, permission_name: str, view_name: str) -> bool:
        plugins = current_app.extensions.get("retiree_admin.plugins")
        if plugins is not None and not plugins.view_active(view_name, g.get("user")):
            return False
        return super().has_access(permission_name, view_name)
