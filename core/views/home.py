"""The home page: the user's region, what they manage, the enabled plugins, links."""
from __future__ import annotations

from flask import current_app, g, url_for
from flask_appbuilder import IndexView, expose
from sqlalchemy import func, select

from core import caching
from core.extensions import db
from core.registry.fields import IN_REGISTER


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
        # One scan of the user's subtree for both cards, kept until the next write to the
        # register (core.caching): the staff's landing page, hit on every login, and at a
        # million rows a scan of the city costs ~250 ms.
        def scan():
            return [tuple(row) for row in db.session.execute(
                select(Retiree.management_state, func.count(),
                       func.count().filter(Retiree.form_complete.is_(False)))
                .group_by(Retiree.management_state))]

        rows = caching.kept("home", ("retiree",), scan)
        counts = {state: n for state, n, _ in rows}
        incomplete = sum(missing for state, _, missing in rows if state in IN_REGISTER)
        plugins = current_app.extensions["retiree_admin.plugins"]
        active = plugins.active_plugins(region.region_path, db.session) if region else []
        return self.render_template(self.index_template, user=user, region=region,
                                    counts=counts, incomplete=incomplete, plugins=active,
                                    cards=_cards(counts, incomplete))


def _cards(counts: dict, incomplete: int) -> list[tuple[str, int, str | None]]:
    """Issue 14 item 12: each home card (label, number, the roster listing exactly the
    people counted), the registered total last."""
    from core.dashboard.criteria import Cond, list_url

    def state(code):
        return list_url([Cond("management_state", "eq", code)])

    # The roster without a state filter lists the registered people (在册) only.
    return [
        ("单位管理", counts.get("employer_managed", 0), state("employer_managed")),
        ("社区管理", counts.get("community_managed", 0), state("community_managed")),
        ("已死亡", counts.get("deceased", 0), state("deceased")),
        ("登记表未完整", incomplete, list_url([Cond("form_complete", "eq", False)])),
        ("在册合计", sum(counts.get(s, 0) for s in IN_REGISTER), url_for("RetireeModelView.list")),
    ]
