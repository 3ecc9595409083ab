"""A45: the Park's streets and communities serve the city/district retirees living in the
Park. Such a person is an outside resident (the Park is outside the pooling area, F9),
managed centrally by the city centre (A19); the Park keeps a service list of them.

The list is built from the registry (never changing a retiree): every outside resident
whose actual residence (F8) lies in the Park is listed at the Park; the Park's centre
assigns each to a community, which then sees and serves them; an entry ends by itself
when the person registers as a local resident, dies, is removed or moves out.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import inspect, or_, select

from core.errors import RuleViolation, RuleViolations
from core.extensions import db
from core.regions import Region, region_by_code
from core.registry.models import Retiree
from core.scoping import unscoped
from districts.industrial_park.models import ParkResident
from districts.industrial_park.texts import PARK

ACTIVE = ("pending", "serving")


def address_keywords(park: Region) -> list[str]:
    """What marks an address as in the Park: its name and its streets' names."""
    streets = db.session.scalars(select(Region.name).where(
        Region.level == "street", Region.region_path.startswith(park.region_path)))
    return ["工业园区", park.name, *streets]


def _end_reason(r: Retiree, park: Region) -> str | None:
    if r.management_state == "deceased":
        return "已死亡"
    if r.management_state == "removed":
        return "登记已注销"
    if r.residence_type == "local":
        community = r.community.full_name if r.community is not None else ""
        return f"已登记为本地人员{('（' + community + '）') if community else ''}"
    return None


def build(on: date | None = None) -> dict[str, int]:
    """List new outside residents living in the Park, refresh the listed ones and end
    those no longer served. Idempotent; changes no retiree. Returns the counts."""
    on = on or date.today()
    added = ended = 0
    with unscoped():
        park = region_by_code(db.session, PARK)
        if park is None:
            return {"added": 0, "ended": 0}
        keywords = address_keywords(park)
        in_park = or_(*(Retiree.residence_address.contains(k, autoescape=True) for k in keywords))
        candidates = {r.id: r for r in db.session.scalars(select(Retiree).where(
            Retiree.residence_type == "outside",
            Retiree.management_state.in_(("employer_managed", "community_managed")), in_park))}
        active = {item.retiree_id: item for item in db.session.scalars(
            select(ParkResident).where(ParkResident.status.in_(ACTIVE)))}
        for retiree_id, item in active.items():
            r = candidates.get(retiree_id)
            if r is None:
                item.status, item.ended_on = "ended", on
                item.end_reason = _end_reason(item.retiree, park) or "现居住地已不在园区"
                ended += 1
                continue
            item.name, item.residence_address, item.phone = r.name, r.residence_address, r.phone
        for retiree_id, r in candidates.items():
            if retiree_id in active:
                continue
            db.session.add(ParkResident(
                retiree_id=r.id, name=r.name, personal_no=r.personal_no,
                residence_address=r.residence_address, phone=r.phone, district=park,
                status="pending", listed_on=on))
            added += 1
        db.session.commit()
    return {"added": added, "ended": ended}


def prepare(item: ParkResident, actor: str, on: date | None = None) -> None:
    """A45: assign a listed person to a Park community (or take them back to the Park's
    list); an ended entry stays as it is."""
    community = item.community
    if item.status == "ended":
        raise RuleViolations([RuleViolation("该服务记录已结束，不能修改", "community")])
    if community is None:
        item.status, item.assigned_on, item.assigned_by = "pending", None, None
        return
    park = db.session.get(Region, item.district_id)
    if community.level != "community" or not community.region_path.startswith(park.region_path):
        raise RuleViolations([RuleViolation("请选择工业园区的社区", "community", "A45")])
    if item.status != "serving" or inspect(item).attrs.community.history.added:
        item.assigned_on, item.assigned_by = on or date.today(), actor
    item.status = "serving"
