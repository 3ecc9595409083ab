"""社会化管理服务费 (A34–A39): the management fee, its payment and the fund it feeds.

* A35: 120 yuan per person per year, five years at once (``FEES_RATE``, ``FEES_YEARS``),
  due at retirement for new retirees and at archive transfer for earlier ones; an
  enterprise's assessment is the sum of its retirees' dues.
* A36: the enterprise pays, or for a bankrupt, revoked, closed or restructured one its
  industry authority, from land-auction income or state-asset net income; hardship
  instalment plans over at most three years (50 % / 30 % / the rest), applied for
  through the industry authority, reviewed, approved and signed as recorded steps.
* A37–A39: the fiscal special account — income (fees, donations, sponsorship) and
  spending kept apart; allocations to service organisations by need, approved and
  checked; each organisation's own book; no balance below zero; period reports.

Dues are raised only where the plugin is enabled for the retiree's district.
"""
from __future__ import annotations

from pathlib import Path

from core.plugins import PluginInfo, RoleSpec, ViewSpec, hookimpl

PLUGIN = PluginInfo(
    name="fees",
    title="社会化管理服务费",
    version="1.0.0",
    description="服务费核定（每人每年120元、一次性缴纳5年）、缴费与收据、欠费清单、困难企业分期缴费、"
                "财政专户收支两条线与服务机构经费拨付。",
)

CATEGORY = "社会化管理服务费"


@hookimpl
def migrations_dir():
    return Path(__file__).parent / "migrations"


@hookimpl(trylast=True)
def fee_schedule(retiree):
    """A35: ``FEES_RATE`` × ``FEES_YEARS`` (120 × 5 = 600 yuan by default) for a
    retiree whose employer is assessed; None for 自谋职业 and 协保 retirees. ``trylast``:
    a district plugin's own schedule wins."""
    from plugins.fees.assessment import default_schedule

    return default_schedule(retiree)


@hookimpl
def retiree_registered(retiree):
    """A35: a new retiree's fee is due at retirement — raised at registration."""
    from plugins.fees.assessment import raise_due_after_commit

    raise_due_after_commit(retiree, "registration")


@hookimpl
def archive_accepted(retiree):
    """A35: an earlier retiree's fee is due at archive transfer (never raised twice)."""
    from plugins.fees.assessment import raise_due_after_commit

    raise_due_after_commit(retiree, "archive")


@hookimpl
def retiree_moved(retiree, from_region, to_region):
    """A32: a retiree's due follows the person to the new community's region."""
    from plugins.fees.assessment import follow_move

    follow_move(retiree)


# A36, A39 (issue 14 item 18): the labour department's approvals and the finance
# department's check are the outside offices' own roles, not the IT administrator's.
_STEP_READ = (r"can_list|can_show|can_get|can_info|menu_access|can_step|can_document"
              r"|can_transition|can_schedule|can_overdue|can_approve|can_check|can_reject")
_FEE_SCREENS = (r"FeeBalanceView|FundReportView|单位缴费余额|欠费清单|收支期间报表"
                r"|社会化管理服务费")
LABOUR_ROLE, FINANCE_ROLE = "labour_approver", "finance_checker"


@hookimpl
def roles():
    from core.security import _SELF_SERVICE

    return [
        RoleSpec(LABOUR_ROLE, "市人社局审批", ("city",), 30, (
            (rf"^(?:{_FEE_SCREENS}|InstalmentPlanView|InstalmentView|FundAllocationView"
             r"|InstalmentPlanApi|FundAllocationApi|分期缴费计划|分期明细|经费拨付)$",
             rf"^(?:{_STEP_READ})$"), *map(tuple, _SELF_SERVICE)), demo_login="labour"),
        RoleSpec(FINANCE_ROLE, "市财政局核拨", ("city",), 30, (
            (rf"^(?:{_FEE_SCREENS}|FundAllocationView|FundAllocationApi|FundIncomeView"
             r"|FundBookView|经费拨付|专户收入|服务机构经费账)$",
             rf"^(?:{_STEP_READ})$"), *map(tuple, _SELF_SERVICE)), demo_login="finance"),
    ]


@hookimpl
def views():
    from plugins.fees import screens as s

    return [
        ViewSpec(s.FeeBalanceView, "单位缴费余额", CATEGORY, icon="fa-balance-scale",
                 category_icon="fa-jpy"),
        ViewSpec(s.FeeDueView, "应缴明细", CATEGORY, icon="fa-list"),
        ViewSpec(s.FeePaymentView, "缴费登记", CATEGORY, icon="fa-money"),
        ViewSpec(s.InstalmentPlanView, "分期缴费计划", CATEGORY, icon="fa-calendar"),
        ViewSpec(s.InstalmentView, "分期明细", CATEGORY, icon="fa-calendar-check-o"),
        ViewSpec(s.FundIncomeView, "专户收入", CATEGORY, icon="fa-arrow-down"),
        ViewSpec(s.FundAllocationView, "经费拨付", CATEGORY, icon="fa-share"),
        ViewSpec(s.FundBookView, "服务机构经费账", CATEGORY, icon="fa-book"),
        ViewSpec(s.FundReportView, "收支期间报表", CATEGORY, icon="fa-file-text-o"),
    ]


@hookimpl
def apis():
    from plugins.fees import api_views as a

    return [a.FeeDueApi, a.FeeBalanceApi, a.FeePaymentApi, a.InstalmentPlanApi,
            a.FundIncomeApi, a.FundAllocationApi, a.FundBookApi]


@hookimpl
def charts():
    from plugins.fees.chart_data import CHARTS

    return CHARTS


@hookimpl
def cli_commands():
    from plugins.fees.commands import fees_group

    return [fees_group]
