"""Core's own answers to the rule hooks. All ``trylast``: a district plugin's answer
wins where it is enabled."""
from __future__ import annotations

from flask import current_app

from core.plugins import hookimpl

# A21: enterprises of these groups send archives to the 市工投公司 centre.
GONGTOU_CENTRE = "市工投公司退休人员档案管理中心"
SHEBAO_CENTRE = "市社保中心退休人员档案管理中心"


@hookimpl(trylast=True)
def is_in_pooling_area(district, on):
    """F9: the pooling area is the districts listed in POOLING_AREA_CODES."""
    return district.code in current_app.config["POOLING_AREA_CODES"]


@hookimpl(trylast=True)
def archive_centre_for(retiree):
    """A21: 市工投公司 system groups and 创元集团 → the 市工投公司 centre; all other
    enterprises, 协保 and self-employed retirees → the 市社保中心 centre."""
    employer = retiree.employer
    if retiree.category == "enterprise" and employer is not None and employer.gongtou_group:
        return GONGTOU_CENTRE
    return SHEBAO_CENTRE
