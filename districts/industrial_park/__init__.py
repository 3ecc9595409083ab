"""苏州工业园区 (P1–P4, A45, F9): the Park's enterprise retiree service centre and its
agreement with the Park's insured units.

* P1–P4: the 苏州工业园区企业退休人员社会化管理协议书 between a Park unit (party A, with
  its unit number) and the Park's service centre (party B): each side's duties as
  checklists with their status, representatives, phones, dates, signed and stamped
  flags, the three originals (one for A, two for B, one of them filed); a new version
  when policy changes, old versions kept; printed as the original is laid out.
* A12 with P1: for Park units the Park agreement takes the place of the city agreement
  (``enterprise_agreement``, asked before the city's plugin).
* P2: Park units send their retirees' archives to the Park's provident fund management
  centre (``archive_centre_for``), not to the city's archive centres.
* F9: the Park stays outside the city pooling area (``is_in_pooling_area``).
* A45: the Park's communities serve the city/district retirees living in the Park: a
  service list built from the registry, each person assigned to a Park community.
"""
from __future__ import annotations

from pathlib import Path

from core.plugins import PluginInfo, ViewSpec, hookimpl
from districts.industrial_park.texts import ARCHIVE_CENTRE, PARK

PLUGIN = PluginInfo(
    name="industrial_park",
    title="苏州工业园区",
    version="1.0.0",
    description="园区参保单位与园区退管中心的社会化管理协议、园区单位档案移交园区公积金"
                "管理中心、园区社区服务居住在园区的市区退休人员。",
    regions=(PARK,),
)


@hookimpl
def migrations_dir():
    return Path(__file__).parent / "migrations"


@hookimpl
def views():
    from districts.industrial_park.screens import (
        ParkAgreementDutyView,
        ParkAgreementOriginalView,
        ParkAgreementVersionView,
        ParkAgreementView,
        ParkResidentView,
    )

    category = "工业园区"
    return [
        ViewSpec(ParkAgreementView, "园区社会化管理协议书", category, icon="fa-handshake-o",
                 category_icon="fa-industry"),
        ViewSpec(ParkAgreementVersionView, "协议版本", category, icon="fa-files-o"),
        ViewSpec(ParkAgreementDutyView, "义务落实清单", category, icon="fa-check-square-o"),
        ViewSpec(ParkAgreementOriginalView, "协议正本", category, icon="fa-archive"),
        ViewSpec(ParkResidentView, "园区居住人员服务", category, icon="fa-home"),
    ]


@hookimpl
def apis():
    from districts.industrial_park.api_views import ALL

    return ALL


@hookimpl
def cli_commands():
    from districts.industrial_park.commands import park_group

    return [park_group]


@hookimpl
def charts():
    from districts.industrial_park.chart_data import CHARTS

    return CHARTS


@hookimpl(tryfirst=True)
def enterprise_agreement(enterprise, on):
    """A12, P1: for a Park unit, True when a version of the Park agreement is in force on
    ``on``, else a message naming the unit; None for every other unit."""
    from core.extensions import db
    from districts.industrial_park.agreements import verdict

    return verdict(db.session, enterprise, on)


@hookimpl
def archive_centre_for(retiree):
    """P2: a Park unit's retirees' archives go to the Park's provident fund management
    centre; None for everyone else (A21 decides)."""
    from districts.industrial_park.agreements import is_park_enterprise

    employer = retiree.employer.current_successor() if retiree.employer is not None else None
    if retiree.category in ("enterprise", "industry_pooled") and is_park_enterprise(employer):
        return ARCHIVE_CENTRE
    return None


@hookimpl(tryfirst=True)
def is_in_pooling_area(district, on):
    """F9: the Park is outside the city pooling area, whatever else is configured; no
    answer for other districts."""
    return False if district.code == PARK else None
