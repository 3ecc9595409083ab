"""The home page: the user's region, what they manage, the enabled plugins, links."""
from __future__ import annotations

from flask import current_app, g
from flask_appbuilder import IndexView, expose
from sqlalchemy import func, select

from core.extensions import db


class HomeView(IndexView):
    route_base = ""
    default_view = "index"
    index_template = "ra_home.html"

    @expose("/")
    def index(self):
        user = g.get("ra_user")
        if user is None:
            return self.render_template(self.index_template, user=None)
        from core.registry.models import Retiree

        region = user.region
        counts = dict(db.session.execute(
            select(Retiree.management_state, func.count()).group_by(Retiree.management_state)
        ).all())
        incomplete = db.session.scalar(
            select(func.count()).select_from(Retiree).where(
                Retiree.form_complete.is_(False),
                Retiree.management_state.in_(("employer_managed", "community_managed"))))
        plugins = current_app.extensions["retiree_admin.plugins"]
        active = plugins.active_plugins(region.region_path, db.session) if region else []
        return self.render_template(self.index_template, user=user, region=region,
                                    counts=counts, incomplete=incomplete, plugins=active)
