"""市退管中心社会化管理协议 (A12): before an enterprise's retirees enter socialized
management, the enterprise has signed the 企业退休人员社会化管理协议书 with the city
service centre.

The plugin records each agreement (enterprise and unit number, document number, date
signed, both parties' representatives and phones, status), prints it, and answers the
``enterprise_agreement`` hook: where it is enabled (per district, or city-wide) an
archive is accepted only when the employer has an agreement in force on that day. Where
A12 does not apply — an enterprise registered outside the pooling area, such as the
Industrial Park whose enterprises sign the Park agreement (P1) — it gives no answer.
"""
from __future__ import annotations

from pathlib import Path

from core.plugins import PluginInfo, ViewSpec, hookimpl

PLUGIN = PluginInfo(
    name="city_agreement",
    title="社会化管理协议（市退管中心）",
    version="1.0.0",
    description="单位与市退管中心签订《企业退休人员社会化管理协议书》的登记、打印，"
                "并在接收档案前核验协议。",
)


@hookimpl
def migrations_dir():
    return Path(__file__).parent / "migrations"


@hookimpl
def views():
    from plugins.city_agreement.screens import CityAgreementView

    return [ViewSpec(CityAgreementView, "社会化管理协议", "单位与机构", icon="fa-handshake-o",
                     category_icon="fa-building")]


@hookimpl
def apis():
    from plugins.city_agreement.screens import CityAgreementApi

    return [CityAgreementApi]


@hookimpl
def cli_commands():
    from plugins.city_agreement.commands import city_agreement_group

    return [city_agreement_group]


@hookimpl
def charts():
    from plugins.city_agreement.chart_data import CHARTS

    return CHARTS


@hookimpl
def enterprise_agreement(enterprise, on):
    """A12: True when ``enterprise`` has an agreement with the city centre in force on
    ``on``; a message naming the enterprise when it has none; None where A12 does not
    apply (outside the pooling area: the Park's own plugin decides for its enterprises)."""
    from core.extensions import db
    from plugins.city_agreement.agreements import verdict

    return verdict(db.session, enterprise, on)
