"""The plugin manager screen: district administrators switch plugins for their district,
city administrators for any district or the whole city. Changes apply on the next
request; every change is recorded and listed."""
from __future__ import annotations

from flask import current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from sqlalchemy import select

from core.errors import RuleViolation
from core.extensions import db
from core.plugins import PluginChange
from core.regions import Region
from core.scoping import unscoped
from core.views.base import actor_name


def manageable_regions(user) -> list[Region]:
    """The city and its districts for a city-level user; a district admin's own district."""
    region = getattr(user, "region", None)
    if region is None:
        return []
    if region.level == "city":
        return [region, *sorted((c for c in region.children if c.level == "district"),
                                key=lambda r: r.code)]
    if region.level == "district":
        return [region]
    return []


class PluginManagerView(BaseView):
    route_base = "/plugins"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        plugins = current_app.extensions["retiree_admin.plugins"]
        regions = manageable_regions(g.ra_user)
        matrix = {
            (name, r.id): plugins.enabled_for_path(name, r.region_path, db.session)
            for name in plugins.plugins for r in regions
        }
        # Issue 14 item 2: a switch that would be refused is not offered; its reason is.
        refused = {
            (name, r.id): plugins.refusal(db.session, name, r, not matrix[(name, r.id)])
            for name in plugins.plugins for r in regions
        }
        region_ids = [r.id for r in regions]
        with unscoped():
            changes = db.session.execute(
                select(PluginChange).where(PluginChange.region_id.in_(region_ids))
                .order_by(PluginChange.id.desc()).limit(50)).scalars().all()
        return self.render_template(
            "ra_plugins.html", plugins=plugins.plugins.values(), regions=regions,
            matrix=matrix, refused=refused, changes=changes)

    @expose("/switch", methods=["POST"])
    @has_access
    def switch(self):
        plugins = current_app.extensions["retiree_admin.plugins"]
        name = request.form.get("plugin", "")
        enabled = request.form.get("enabled") == "1"
        allowed = {r.id: r for r in manageable_regions(g.ra_user)}
        region = allowed.get(request.form.get("region", type=int) or -1)
        if region is None:
            flash("只能管理本辖区的插件", "danger")
            return redirect(url_for(".index")), 403
        try:
            plugins.set_enabled(db.session, name, region, enabled, actor_name())
        except RuleViolation as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            title = plugins.plugins[name].info.title
            flash(f"已{'启用' if enabled else '停用'}插件「{title}」（{region.name}）", "success")
        return redirect(url_for(".index"))


def register(appbuilder) -> None:
    appbuilder.add_view(PluginManagerView, "插件管理", category="系统管理", icon="fa-plug")
