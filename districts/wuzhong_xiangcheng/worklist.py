"""The merger worklist (A44): outside residents living in a merged district."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, or_, select

from core.extensions import db
from core.regions import Region
from core.registry.models import Retiree
from core.scoping import unscoped
from districts.wuzhong_xiangcheng.models import MergerDate, MergerWorkItem


def build_worklist(on: date | None = None) -> dict[str, int]:
    """From each district's merger date on, list every outside resident whose actual
    residence (F8) lies in the district and who is not yet listed; mark items done
    once the person is a local resident of a community in the district. Idempotent;
    changes no retiree. Returns {district name: new items}."""
    on = on or date.today()
    added: dict[str, int] = {}
    with unscoped():
        mergers = db.session.execute(
            select(MergerDate).where(MergerDate.merger_date <= on)).scalars().all()
        for merger in mergers:
            district = merger.district
            listed = select(MergerWorkItem.retiree_id).where(
                MergerWorkItem.district_id == district.id)
            candidates = db.session.execute(
                select(Retiree.id, Retiree.name, Retiree.personal_no, Retiree.residence_address)
                .where(
                    Retiree.residence_type == "outside",
                    Retiree.management_state.in_(("employer_managed", "community_managed")),
                    or_(Retiree.residence_address.contains(district.name),
                        Retiree.hukou_address.contains(district.name)),
                    Retiree.id.not_in(listed))).all()
            for retiree_id, name, personal_no, address in candidates:
                db.session.add(MergerWorkItem(
                    district_id=district.id, retiree_id=retiree_id, name=name,
                    personal_no=personal_no, residence_address=address,
                    region_path=district.region_path))
            added[district.name] = len(candidates)
        db.session.flush()
        resolve_done()
    db.session.commit()
    return added


def resolve_done() -> int:
    """Mark pending items whose retiree is now a local resident in the district
    (runs unscoped: the person may have left the user's sight)."""
    pending = db.session.execute(
        select(MergerWorkItem).where(MergerWorkItem.status == "pending")).scalars().all()
    done = 0
    for item in pending:
        r = item.retiree
        if r.residence_type == "local" and r.region_path.startswith(item.district.region_path):
            item.status, item.resolved_at = "done", datetime.now()
            done += 1
    return done


def progress() -> list[dict]:
    """Per district: total, done, pending (scoped to the user)."""
    rows = db.session.execute(
        select(Region.name, MergerWorkItem.status, func.count())
        .join(Region, Region.id == MergerWorkItem.district_id)
        .group_by(Region.name, MergerWorkItem.status)).all()
    out: dict[str, dict] = {}
    for name, status, n in rows:
        entry = out.setdefault(name, {"district": name, "done": 0, "pending": 0})
        entry[status] = n
    for entry in out.values():
        entry["total"] = entry["done"] + entry["pending"]
    return list(out.values())
