"""Users, roles and access checks.

Every user belongs to one region node (A6) and sees that node's subtree. Roles are
declared here as data (``ROLES``: view-name and permission-name patterns, FAB's builtin
roles) and written to the database by ``retiree-admin init``; permission checks against
them need no query. ``RetireeSecurityManager.has_access`` adds the per-district plugin
switch: a plugin's views, APIs and menus are refused and hidden where it is off.
"""
from __future__ import annotations

from flask import current_app, g
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import User as FabUser
from flask_appbuilder.security.views import UserDBModelView
from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship


class RegionUser(FabUser):
    """A FAB user attached to a node of the region tree (A6)."""

    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    region = relationship("Region", lazy="joined")


ROLE_TITLES = {
    "system_admin": "系统管理员",
    "city_admin": "市退管中心管理员",
    "district_admin": "区退管中心管理员",
    "street_staff": "街道工作人员",
    "community_staff": "社区工作人员",
    "supervisor": "督查人员",
}
# The lowest region level each role may be attached to, and the highest.
ROLE_LEVELS = {
    "system_admin": ("city",),
    "city_admin": ("city",),
    "district_admin": ("district",),
    "street_staff": ("street",),
    "community_staff": ("community",),
    "supervisor": ("city", "district", "street", "community"),
}

# FAB's security screens and their menu names: only administrators reach them.
_SECURITY = (r"(User|Role|Permission|ViewMenu|Group|RegisterUser|ApiKey|ResetPassword)\w*"
             r"|List .*|Security|User's Statistics|Base Permissions|Views/Menus"
             r"|Permission on Views/Menus")
# Screens that change the platform itself: the region tree and the plugin switches.
_PLATFORM = r"Region\w*|PluginManager\w*|区域管理|插件管理|区域树"
_READ = (r"can_list|can_show|can_get|can_info|menu_access|can_tree|can_download"
         r"|can_dashboard|can_chart\w*|can_print\w*|can_ledger|can_history")
_SELF_SERVICE = [
    ["UserDBModelView", "can_userinfo|can_resetmypassword"],
    ["UserInfoEditView|ResetMyPasswordView", "can_this_form_get|can_this_form_post"],
]


def _staff(extra=()):
    return [
        [rf"^(?!(?:{_SECURITY}|{_PLATFORM})$).*$", ".*"],
        [rf"^(?:{_PLATFORM})$", rf"^(?:{_READ})$"],
        *_SELF_SERVICE,
        *extra,
    ]


ROLES: dict[str, list[list[str]]] = {
    "system_admin": [[".*", ".*"]],
    "city_admin": [[r"^(?!(?:Permission\w*|ViewMenu\w*|Base Permissions|Views/Menus"
                    r"|Permission on Views/Menus|RoleModelView|List Roles)$).*$", ".*"]],
    "district_admin": [[rf"^(?!(?:{_SECURITY})$).*$", ".*"], *_SELF_SERVICE],
    "street_staff": _staff(),
    "community_staff": _staff(),
    "supervisor": [[rf"^(?!(?:{_SECURITY})$).*$", rf"^(?:{_READ})$"], *_SELF_SERVICE],
}


def user_region_path(user) -> str | None:
    region = getattr(user, "region", None)
    return region.region_path if region is not None else None


def role_names(user) -> set[str]:
    return {r.name for r in getattr(user, "roles", [])}


class RegionUserDBModelView(UserDBModelView):
    list_columns = ["username", "first_name", "last_name", "region", "roles", "active"]
    add_columns = ["username", "first_name", "last_name", "email", "region", "roles",
                   "active", "password", "conf_password"]
    edit_columns = ["username", "first_name", "last_name", "email", "region", "roles", "active"]
    show_fieldsets = [
        ("用户", {"fields": ["username", "first_name", "last_name", "email", "active"]}),
        ("权限", {"fields": ["region", "roles", "login_count", "last_login"]}),
    ]
    label_columns = {"region": "所属区域"}


class RetireeSecurityManager(SecurityManager):
    user_model = RegionUser
    userdbmodelview = RegionUserDBModelView

    def has_access(self, permission_name: str, view_name: str) -> bool:
        plugins = current_app.extensions.get("retiree_admin.plugins")
        if plugins is not None and not plugins.view_active(view_name, g.get("user")):
            return False
        return super().has_access(permission_name, view_name)
