"""Region screens: CRUD and a tree browser (A6)."""
from __future__ import annotations

from flask import g
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.models.sqla.filters import FilterEqual
from sqlalchemy import func, select

from core.errors import RuleViolations
from core.extensions import db
from core.regions import LEVEL_LABELS, LEVELS, Region
from core.views.base import ScopedModelRestApi, ScopedModelView, interface


def _check(item) -> None:
    from core.errors import RuleViolation

    if item.level not in LEVELS:
        raise RuleViolations([RuleViolation("区域级别须为市、区、街道或社区", "level")])
    try:
        item.check_hierarchy()
    except RuleViolation as exc:
        raise RuleViolations([exc]) from exc


class RegionModelView(ScopedModelView):
    datamodel = interface(Region)
    list_title = "区域"
    list_columns = ["code", "name", "level_label", "parent", "phone"]
    search_columns = ["code", "name", "level", "parent"]
    add_columns = ["parent", "level", "code", "name", "address", "phone"]
    edit_columns = ["name", "address", "phone"]
    show_columns = ["code", "name", "level_label", "parent", "address", "phone", "region_path"]
    base_order = ("code", "asc")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    label_columns = {"code": "区划代码", "name": "名称", "level": "级别", "level_label": "级别",
                     "parent": "上级区域", "address": "地址", "phone": "电话",
                     "region_path": "区域路径"}
    description_columns = {
        "code": "区6位（GB/T 2260），街道9位，社区12位，均以上级代码开头",
    }

    def __init__(self, *args, **kwargs):
        from flask_appbuilder.fieldwidgets import Select2Widget
        from wtforms import SelectField

        self.add_form_extra_fields = {"level": SelectField(
            "级别", choices=[(k, LEVEL_LABELS[k]) for k in LEVELS[1:]], widget=Select2Widget())}
        super().__init__(*args, **kwargs)

    def prepare_item(self, item, is_new: bool) -> None:
        if is_new:
            _check(item)


class RegionApi(ScopedModelRestApi):
    """``/api/v1/region/``: code, name, level, parent."""

    resource_name = "region"
    datamodel = interface(Region)
    allow_browser_login = True
    include_route_methods = {"get", "get_list", "post", "put", "info"}
    list_columns = ["id", "code", "name", "level", "parent.id"]
    show_columns = ["id", "code", "name", "level", "parent.id", "address", "phone"]
    add_columns = ["code", "name", "level", "parent", "address", "phone"]
    edit_columns = ["name", "address", "phone"]
    search_columns = ["code", "name", "level", "parent"]
    add_query_rel_fields = {"parent": [["level", FilterEqual, "district"]]}

    def prepare_item(self, item, is_new: bool) -> None:
        if is_new:
            _check(item)


class RegionTreeView(BaseView):
    """The region tree as far as the user can see, with retiree counts per node; the
    user's own region's count is labelled 本辖区 (issue 14 item 12)."""

    route_base = "/regions"
    default_view = "tree"

    @expose("/tree/")
    @has_access
    def tree(self):
        from core.registry.fields import IN_REGISTER
        from core.registry.models import Retiree

        regions = db.session.execute(select(Region).order_by(Region.region_path)).scalars().all()
        counts = dict(db.session.execute(
            select(Retiree.region_path, func.count())
            .where(Retiree.management_state.in_(IN_REGISTER))  # as the roster lists them
            .group_by(Retiree.region_path)).all())
        totals = {}
        for r in regions:
            totals[r.id] = sum(n for path, n in counts.items() if path.startswith(r.region_path))
        own = getattr(g.get("ra_user"), "region", None)
        return self.render_template("ra_region_tree.html", regions=regions, totals=totals,
                                    labels=LEVEL_LABELS, own_id=own.id if own else None)


def register(appbuilder) -> None:
    appbuilder.add_view(RegionModelView, "区域管理", category="系统管理", icon="fa-sitemap",
                        category_icon="fa-cogs")
    appbuilder.add_view(RegionTreeView, "区域树", category="系统管理", icon="fa-tree")
    appbuilder.add_api(RegionApi)
