"""吴中区、相城区并轨 (A44): the merger of a district's labour and social-insurance work
with the city's.

Before a district's merger date it stays outside the city pooling area (F9) and its
streets and communities serve the city/district retirees living there as outside
residents; from that date it is inside the pooling area and the rules apply there. On
the merger date a worklist lists the outside residents living in the district who must
now be registered as local residents of a community; nothing is changed silently.
Disabled, or with no date set, both districts stay outside (core's F9 rule answers).
"""
from __future__ import annotations

from pathlib import Path

from core.plugins import PluginInfo, ViewSpec, hookimpl

WUZHONG, XIANGCHENG = "320506", "320507"
DISTRICTS = (WUZHONG, XIANGCHENG)

PLUGIN = PluginInfo(
    name="wuzhong_xiangcheng",
    title="吴中区、相城区并轨",
    version="1.0.0",
    description="按并轨日期将吴中区、相城区纳入市区统筹范围，并生成居外人员转为本地人员的工作清单。",
    regions=DISTRICTS,
)


@hookimpl
def migrations_dir():
    return Path(__file__).parent / "migrations"


@hookimpl
def views():
    from districts.wuzhong_xiangcheng.screens import MergerDateView, MergerWorklistView

    return [
        ViewSpec(MergerDateView, "并轨日期", "并轨管理", icon="fa-calendar"),
        ViewSpec(MergerWorklistView, "并轨工作清单", "并轨管理", icon="fa-list"),
    ]


@hookimpl
def apis():
    from districts.wuzhong_xiangcheng.screens import MergerDateApi

    return [MergerDateApi]


@hookimpl
def is_in_pooling_area(district, on):
    """A44: inside the pooling area from the district's merger date; before it, or with
    no date set, no answer (core's F9 rule keeps the district outside)."""
    if district.code not in DISTRICTS:
        return None
    from districts.wuzhong_xiangcheng.models import merger_date_of

    merger = merger_date_of(district.id)
    if merger is not None and on >= merger:
        return True
    return None


@hookimpl
def cli_commands():
    from districts.wuzhong_xiangcheng.commands import merger_group

    return [merger_group]
