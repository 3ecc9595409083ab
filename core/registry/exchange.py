"""Excel import and export of the registry (A30–A31), wired to the database.

Every imported row goes through ``service.prepare`` — the same rules as the screens and
the API — inside its own savepoint, so a bad row is reported and changes nothing while
good rows are kept. Rows are matched on the personal number (F4): re-importing a file
adds nobody, and changes to existing people are recorded in their history. Imports run
with the importing user's scope: a row for a community outside it is refused.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from core.errors import RuleViolation, RuleViolations, ScopeViolation
from core.regions import Region
from core.registry import excel, service
from core.registry.fields import FORM_FIELDS
from core.registry.models import EmploymentAgency, Enterprise, Retiree
from core.registry.validators import mask_id_card, mask_phone, normalize_personal_no
from core.scoping import unscoped

PLAIN_FIELDS = [f.name for f in FORM_FIELDS if f.kind != "ref"]
EXPORT_EXTRAS = [("management_state", "管理状态"), ("form_complete", "登记表完整")]


# PIPL: exports show ID numbers and phones masked unless an approved release request
# (A33) names them; health fields leave only with ``health`` (core.release).
MASKED = {"id_card_no": mask_id_card, "phone": mask_phone}
HEALTH_FIELDS = ("serious_illness", "health_notes")


def retiree_row(r: Retiree, unmasked: frozenset[str] = frozenset(), health: bool = True) -> dict:
    row = {name: getattr(r, name) for name in PLAIN_FIELDS}
    for name, mask in MASKED.items():
        if name not in unmasked and row[name]:
            row[name] = mask(row[name])
    if not health:
        for name in HEALTH_FIELDS:
            row[name] = None
    row["employer"] = r.employer.unit_no if r.employer else None
    row["custodian_agency"] = r.custodian_agency.code if r.custodian_agency else None
    row["community"] = r.community.code if r.community else None
    row["management_state"] = r.state_label
    row["form_complete"] = r.form_complete
    return row


def export_retirees(query, target, watermark: str | None = None,
                    unmasked: frozenset[str] = frozenset(), health: bool = True) -> int:
    """Stream the rows of ``query`` (already scoped and filtered) to an xlsx; memory
    stays flat in the row count."""
    query = query.options(joinedload(Retiree.employer), joinedload(Retiree.custodian_agency),
                          joinedload(Retiree.community)).yield_per(2000)
    return excel.write_export(target, (retiree_row(r, unmasked, health) for r in query),
                              extra_columns=EXPORT_EXTRAS, watermark=watermark)


@dataclass
class ImportResult:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, dict, list[str]]] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.errors)

    def summary(self) -> dict[str, int]:
        return {"总行数": self.total, "新增": self.created, "更新": self.updated,
                "无变化": self.unchanged, "失败": self.failed}


class _Refs:
    """Look-ups of unit numbers, agency codes and community codes, cached per import."""

    def __init__(self, session):
        self.session = session
        self._cache: dict[tuple[str, str], object] = {}

    def _get(self, model, column, value):
        key = (model.__name__, str(value))
        if key not in self._cache:
            self._cache[key] = self.session.scalar(select(model).where(column == str(value)))
        return self._cache[key]

    def resolve(self, raw: dict) -> list[RuleViolation]:
        errors = []
        for name, model, column, label in (
                ("employer", Enterprise, Enterprise.unit_no, "原工作单位编号"),
                ("custodian_agency", EmploymentAgency, EmploymentAgency.code, "就业管理机构编号")):
            value = raw.get(name)
            if value in (None, ""):
                raw[name] = None
                continue
            with unscoped():  # organisations are city-wide
                found = self._get(model, column, value)
            if found is None:
                errors.append(RuleViolation(f"{label}{value}不存在", name))
            raw[name] = found
        code = raw.get("community")
        if code in (None, ""):
            raw["community"] = None
        else:
            found = self._get(Region, Region.code, code)
            if found is None:
                errors.append(RuleViolation(f"社区代码{code}不存在或不在本辖区内", "community"))
            raw["community"] = found
        return errors


def _apply(r: Retiree, raw: dict) -> bool:
    changed = False
    for name in [*PLAIN_FIELDS, "employer", "custodian_agency", "community"]:
        if name in MASKED and raw.get(name) and raw[name] == MASKED[name](getattr(r, name)):
            continue  # a masked export imported back keeps the real value
        if name in raw and getattr(r, name) != raw[name]:
            setattr(r, name, raw[name])
            changed = True
    return changed


def import_retirees(session, source, actor: str,
                    progress: Callable[[int], None] | None = None,
                    commit_every: int = 500) -> ImportResult:
    """A31: validate and upsert every row; returns counts and per-row errors."""
    result = ImportResult()
    refs = _Refs(session)
    for row_no, raw in excel.read_rows(source):
        result.total += 1
        shown = {k: raw.get(k) for k in ("name", "personal_no", "id_card_no")}
        errors = list(raw.pop("_errors", []))
        errors += refs.resolve(raw)
        if errors:
            result.errors.append((row_no, shown, [e.message for e in errors]))
            continue
        outcome = _import_row(session, raw, actor)
        if isinstance(outcome, list):
            result.errors.append((row_no, shown, outcome))
        else:
            setattr(result, outcome, getattr(result, outcome) + 1)
        if result.total % commit_every == 0:
            session.commit()
        if progress:
            progress(result.total)
    session.commit()
    return result


def _import_row(session, raw: dict, actor: str) -> str | list[str]:
    try:
        personal_no = normalize_personal_no(raw.get("personal_no"))
    except RuleViolation as exc:
        return [exc.message]
    savepoint = session.begin_nested()
    try:
        existing = session.scalar(select(Retiree).where(Retiree.personal_no == personal_no))
        if existing is None:
            with unscoped():
                elsewhere = session.scalar(select(Retiree.id).where(
                    Retiree.personal_no == personal_no).execution_options(unscoped=True))
            if elsewhere is not None:
                savepoint.rollback()
                return [f"个人编号{personal_no}已在其他辖区登记，不能重复登记"]
            r = Retiree()
            _apply(r, raw)
            session.add(r)
            service.prepare(session, r, actor, action="import")
            session.flush()
            savepoint.commit()
            return "created"
        if not _apply(existing, raw):
            savepoint.rollback()
            return "unchanged"
        service.prepare(session, existing, actor, action="import", reason="Excel导入更新")
        session.flush()
        savepoint.commit()
        return "updated"
    except RuleViolations as exc:
        savepoint.rollback()
        return [v.message for v in exc.violations]
    except ScopeViolation as exc:
        savepoint.rollback()
        return [exc.message]


def write_report(target, result: ImportResult) -> int:
    return excel.write_error_report(target, result.errors, summary=result.summary())


def ledger(session, community: Region) -> dict:
    """A13: a community's base ledger — its retirees and counts by category, family
    status and special situation."""
    from sqlalchemy import func

    from core.registry.fields import CATEGORY, FAMILY_STATUS, SERIOUS_ILLNESS

    base = select(Retiree).where(Retiree.region_path.startswith(community.region_path),
                                 Retiree.management_state.in_(("employer_managed",
                                                               "community_managed")))
    people = session.execute(base.order_by(Retiree.name)).scalars().all()

    sub = base.subquery()

    def counts(column, labels):
        rows = session.execute(select(column, func.count()).group_by(column)).all()
        return {labels.get(k, k): n for k, n in rows}

    return {
        "people": people,
        "by_category": counts(sub.c.category, CATEGORY),
        "by_family": counts(sub.c.family_status, FAMILY_STATUS),
        "by_illness": counts(sub.c.serious_illness, SERIOUS_ILLNESS),
        "special": {
            "鳏寡": sum(1 for p in people if p.widowed_alone),
            "残疾": sum(1 for p in people if p.disabled),
            "高龄": sum(1 for p in people if p.very_old),
        },
        "as_of": date.today(),
    }

