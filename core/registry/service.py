"""One path for every write to the registry: screens, REST API and Excel import all go
through ``prepare`` (normalise, validate, record history) so the rules hold everywhere.

Rules enforced here: F2 (completeness), F3 (employer or agency), F4 (personal number),
F5/F9/A19 (residence and the pooling area, through the ``is_in_pooling_area`` hook),
A5/A13 (management state), A32 (history), A40 (out of scope), ID-number checks.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime

from flask import current_app
from sqlalchemy import event, insert, inspect, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import PASSIVE_NO_INITIALIZE

from core import caching
from core.errors import RuleViolation, RuleViolations
from core.events import emit
from core.regions import Region, district_of
from core.registry import validators as v
from core.registry.fields import (
    BENEFIT,
    CATEGORY,
    FAMILY_STATUS,
    FIELDS_BY_NAME,
    GENDER,
    LABELS,
    POLITICAL_STATUS,
    RESIDENCE_TYPE,
    RETIREMENT_TYPE,
    SERIOUS_ILLNESS,
)
from core.registry.models import OUT_OF_AREA, Retiree, RetireeHistory, RetireeTransfer
from core.scoping import unscoped

CHOICES = {
    "gender": GENDER,
    "retirement_type": RETIREMENT_TYPE,
    "benefit": BENEFIT,
    "category": CATEGORY,
    "residence_type": RESIDENCE_TYPE,
    "family_status": FAMILY_STATUS,
    "serious_illness": SERIOUS_ILLNESS,
    "political_status": POLITICAL_STATUS,
}
# A40: out of scope, refused with the reason.
OUT_OF_SCOPE = {
    "retirement_type": {"lixiu": "离休", "离休": "离休"},
    "category": {"government": "机关", "public_institution": "事业单位",
                 "机关": "机关", "事业单位": "事业单位"},
}
CONFIRMATIONS = (
    ("employer_handler_name", "employer_handler_date", "单位经办人"),
    ("community_worker_name", "community_worker_date", "社区工作人员"),
    ("retiree_signed_name", "retiree_signed_date", "退休人员本人"),
)
# Columns whose changes are recorded (A32): the form, plus lifecycle columns.
TRACKED = [f.name for f in FIELDS_BY_NAME.values() if f.kind != "ref"] + [
    "employer_id", "custodian_agency_id", "community_id", "management_state",
    "archive_transferred_on", "death_date", "death_cause", "death_reporter", "removed_reason",
]
SENSITIVE = {"id_card_no", "phone"}
# Free-text fields (the identity numbers and the phone have their own checks).
TEXT_FIELDS = [f.name for f in FIELDS_BY_NAME.values()
               if f.kind == "text" and f.name not in ("personal_no", "id_card_no", "phone")]
# Control characters (a NUL breaks PostgreSQL), lone surrogates (not encodable) and
# bidirectional overrides (they disguise the text) belong in no field.
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff"
                        r"\u202a-\u202e\u2066-\u2069]")


def _hook(session, retiree: Retiree):
    from flask import current_app as app

    plugins = app.extensions["retiree_admin.plugins"]
    return plugins.hook_for(retiree.compute_region_path(), session)


def in_pooling_area(session, community: Region, on: date) -> bool:
    """F9/A44: asks the ``is_in_pooling_area`` hook with the community's district's
    plugins only."""
    district = district_of(community)
    if district is None:
        return False
    plugins = current_app.extensions["retiree_admin.plugins"]
    return bool(plugins.hook_for(district.region_path, session)
                .is_in_pooling_area(district=district, on=on))


def _normalise(r: Retiree) -> list[RuleViolation]:
    errors: list[RuleViolation] = []

    def attempt(field, fn):
        try:
            setattr(r, field, fn(getattr(r, field)))
        except RuleViolation as e:
            errors.append(e)

    for field in TEXT_FIELDS:
        value = getattr(r, field)
        if isinstance(value, str) and _BAD_CHARS.search(value):
            errors.append(RuleViolation(
                f"{LABELS[field]}含有控制字符等不可见字符，请删除后重新填写", field))
    r.name = (r.name or "").strip()
    if not r.name:
        errors.append(RuleViolation("姓名不能为空", "name"))
    r.name_initials = v.name_initials(r.name)
    attempt("personal_no", v.normalize_personal_no)
    attempt("id_card_no", v.normalize_id_card_no)
    if r.phone not in (None, ""):
        attempt("phone", v.normalize_phone)
    else:
        r.phone = None
    for field, table in OUT_OF_SCOPE.items():
        value = getattr(r, field)
        if value in table:
            errors.append(RuleViolation(
                f"{table[value]}人员不属于企业退休人员社会化管理范围，不予登记", field, "A40"))
    for field in ("family_status", "serious_illness"):
        if getattr(r, field) in (None, ""):
            setattr(r, field, "none")
    for field, choices in CHOICES.items():
        value = getattr(r, field)
        if value in (None, "") and not FIELDS_BY_NAME[field].required:
            setattr(r, field, None)
            continue
        if value in (None, ""):
            errors.append(RuleViolation(f"{LABELS[field]}不能为空", field))
        elif value not in choices and not any(e.field == field for e in errors):
            allowed = "、".join(f"{k}（{lbl}）" for k, lbl in choices.items())
            errors.append(RuleViolation(f"{LABELS[field]}的值“{value}”无效，可选：{allowed}", field))
    for field in ("birth_date", "retirement_date"):
        if getattr(r, field) is None:
            errors.append(RuleViolation(f"{LABELS[field]}不能为空", field))
    for field in ("party_cadre", "widowed_alone", "disabled"):
        if getattr(r, field) is None:
            setattr(r, field, False)
    return errors


def _refers(r: Retiree, relation: str) -> bool:
    """Whether ``r`` references a row through ``relation``. A relationship set since the
    load (API, screens, import, moves) wins over its foreign key, which follows only at
    flush."""
    hist = _history(inspect(r), relation)
    if hist.added:
        return hist.added[0] is not None
    return getattr(r, relation) is not None or getattr(r, f"{relation}_id") is not None


def _cross_checks(session, r: Retiree, on: date, id_ok: bool = True) -> list[RuleViolation]:
    errors: list[RuleViolation] = []
    if id_ok and r.id_card_no:
        errors += v.check_id_card_consistency(r.id_card_no, r.birth_date, r.gender)
    if r.birth_date and r.retirement_date and r.retirement_date <= r.birth_date:
        errors.append(RuleViolation("退休日期不能早于出生日期", "retirement_date"))
    # F3: employer for enterprise retirees; agency (and no employer) for 自谋职业/协保.
    if r.category in ("self_employed", "agreement_retained"):
        if not _refers(r, "custodian_agency"):
            errors.append(RuleViolation(
                "自谋职业、协保退休人员须填写托管其档案的就业管理机构", "custodian_agency", "F3"))
        if _refers(r, "employer"):
            errors.append(RuleViolation(
                "自谋职业、协保退休人员不填原工作单位，填“自谋职业”或“协保”", "employer", "F3"))
    elif r.category in ("enterprise", "industry_pooled") and not _refers(r, "employer"):
        errors.append(RuleViolation("企业退休人员须填写原工作单位", "employer", "F3"))
    # F5/F9/A19: residence.
    if r.residence_type == "local":
        community = r.community
        if community is None:
            errors.append(RuleViolation(
                "本地人员须填写居住地所在区、街道、社区", "community", "F5"))
        elif community.level != "community":
            errors.append(RuleViolation("所在社区须选择社区（村）一级的区域", "community", "F5"))
        elif not in_pooling_area(session, community, on):
            district = district_of(community)
            errors.append(RuleViolation(
                f"{district.name if district else community.name}不在市区统筹范围内，"
                "居住在统筹范围以外的人员请选择“居外人员”", "community", "F9"))
    elif r.residence_type == "outside" and _refers(r, "community"):
        errors.append(RuleViolation(
            "居外人员由市退管中心集中管理，不填所在社区", "community", "A19"))
    return errors


UNIQUE = (("personal_no", "个人编号"), ("id_card_no", "身份证号"))


class TakenNumbers:
    """F4: the personal and ID numbers of a batch of records (an import chunk) looked up
    city-wide in one query, so that ``prepare`` checks uniqueness here instead of
    querying for each record. ``claim`` marks a record's numbers as taken by it when
    it is accepted: a later record of the batch cannot take them, and numbers it gave
    up are free again. A number not looked up is answered by the database as usual."""

    def __init__(self, session, personal_nos: Iterable[str], id_card_nos: Iterable[str]):
        self.looked_up = {"personal_no": set(personal_nos), "id_card_no": set(id_card_nos)}
        self.owner: dict[str, dict] = {"personal_no": {}, "id_card_no": {}}
        with unscoped():
            rows = session.execute(
                select(Retiree.id, Retiree.personal_no, Retiree.id_card_no)
                .where(or_(Retiree.personal_no.in_(self.looked_up["personal_no"]),
                           Retiree.id_card_no.in_(self.looked_up["id_card_no"])))
                .execution_options(unscoped=True))
            for pk, personal_no, id_card_no in rows:
                self.owner["personal_no"][personal_no] = pk
                self.owner["id_card_no"][id_card_no] = pk

    def holder(self, field: str, value: str):
        """The id (or the new record) holding ``value``, None when it is free."""
        return self.owner[field].get(value)

    def clash(self, r: Retiree, field: str, value: str) -> bool | None:
        """Whether another record holds ``value``; None when it was not looked up."""
        if value not in self.looked_up[field] and value not in self.owner[field]:
            return None
        owner = self.owner[field].get(value)
        if owner is None or owner is r:
            return False
        return not isinstance(owner, int) or owner != r.id

    def claim(self, r: Retiree) -> None:
        """``r`` was accepted: its numbers are now its own, those it changed are free."""
        for field, _ in UNIQUE:
            owners = self.owner[field]
            for old in _history(inspect(r), field).deleted:
                if owners.get(old) is r or (r.id is not None and owners.get(old) == r.id):
                    del owners[old]
            owners[getattr(r, field)] = r


def _uniqueness(session, r: Retiree, invalid: set,
                taken: TakenNumbers | None = None) -> list[RuleViolation]:
    """F4 and the ID number are unique city-wide: checked past the user's scope, and
    answered without saying whose record holds the number. A number already refused
    (``invalid``) is not looked up: it may hold what the database cannot take."""
    errors = []
    for field, label in UNIQUE:
        value = getattr(r, field)
        if not value or field in invalid:
            continue
        clash = taken.clash(r, field, value) if taken is not None else None
        if clash is None:
            q = select(Retiree.id).where(getattr(Retiree, field) == value)
            if r.id is not None:
                q = q.where(Retiree.id != r.id)
            with unscoped(), session.no_autoflush:
                clash = session.execute(q.execution_options(unscoped=True)).first() is not None
        if clash:
            errors.append(RuleViolation(f"{label}{value}已登记，不能重复登记", field, "F4"))
    return errors


def completeness(r: Retiree) -> bool:
    """F2: complete only when all three confirmations carry a name and a date."""
    return all(getattr(r, n) and getattr(r, d) for n, d, _ in CONFIRMATIONS)


def missing_confirmations(r: Retiree) -> list[str]:
    return [label for n, d, label in CONFIRMATIONS if not (getattr(r, n) and getattr(r, d))]


def prepare(session, r: Retiree, actor: str, action: str | None = None,
            reason: str | None = None, on: date | None = None,
            taken: TakenNumbers | None = None) -> None:
    """Normalise and validate ``r`` and queue its history; raise ``RuleViolations``
    (nothing is written) when any rule fails. The caller commits. ``taken``: the
    numbers of a batch looked up in advance (the import)."""
    if r.management_state in ("deceased", "removed") and r.id is not None \
            and not inspect(r).attrs.management_state.history.added:
        raise RuleViolations([RuleViolation(
            f"该人员状态为“{'已死亡' if r.management_state == 'deceased' else '已注销'}”，"
            "不能再修改登记信息", "management_state")])
    # A32: an autoflush (a lazy load in the checks) would write the changes and clear
    # their attribute history before record_history reads it.
    with session.no_autoflush:
        _prepare(session, r, actor, action, reason, on, taken)


def _prepare(session, r: Retiree, actor: str, action: str | None, reason: str | None,
             on: date | None, taken: TakenNumbers | None) -> None:
    errors = _normalise(r)
    id_ok = not any(e.field == "id_card_no" for e in errors)
    errors += _cross_checks(session, r, on or date.today(), id_ok)
    errors += _uniqueness(session, r, {e.field for e in errors}, taken)
    for result in _hook(session, r).validate_retiree(retiree=r, session=session):
        errors += result or []
    if errors:
        raise RuleViolations(errors)
    r.form_complete = completeness(r)
    if r.management_state is None:
        r.management_state = "community_managed" if r.archive_transferred_on else "employer_managed"
    new = r.id is None
    if new:
        r.created_by = actor
        emit(session, "retiree_registered", r.compute_region_path(), retiree=r)
    r.updated_by = actor
    record_history(session, r, actor, action or ("create" if new else "update"), reason)


def _text(field: str, value) -> str | None:
    if value is None:
        return None
    if field in SENSITIVE:
        return v.mask_id_card(value) if field == "id_card_no" else v.mask_phone(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


# A reference set through its relationship (API, screens, moves) changes the foreign key
# only at flush: until then the change shows on the relationship.
REFERENCES = {"employer_id": "employer", "custodian_agency_id": "custodian_agency",
              "community_id": "community"}


def _history(state, key: str):
    """``state.attrs[key].history`` without building the state of every attribute (what
    ``attrs`` does on each access: a loop over the fields made that quadratic)."""
    return state.get_history(key, PASSIVE_NO_INITIALIZE)


def _change(state, field: str) -> tuple | None:
    hist = _history(state, field)
    if not hist.has_changes() and field in REFERENCES:
        ref = _history(state, REFERENCES[field])
        if not ref.added:
            return None
        target = ref.added[0]
        return getattr(state.obj(), field), target.id if target is not None else None
    if not hist.has_changes():
        return None
    return hist.deleted[0] if hist.deleted else None, hist.added[0] if hist.added else None


def record_history(session, r: Retiree, actor: str, action: str, reason: str | None) -> None:
    """A32: one history row per changed field (sensitive values masked). A new record's
    row is written by the flush that inserts the record (``_write_created_history``)."""
    state = inspect(r)
    if r.id is None or state.pending or state.transient:
        session.info.setdefault(_CREATED, []).append(
            (r, {"actor": actor, "action": action, "reason": reason}))
        return
    for field in TRACKED:
        change = _change(state, field)
        if change is None:
            continue
        old, new = change
        if old == new or (old in (None, "") and new in (None, "")):
            continue  # an empty box saved again empty is no change (issue 14 item 11)
        session.add(RetireeHistory(retiree_id=r.id, actor=actor, action=action, field=field,
                                   old_value=_text(field, old), new_value=_text(field, new),
                                   reason=reason))


# New records whose "created" history row waits for the flush that gives them an id.
_CREATED = "ra_created_history"


@event.listens_for(Session, "after_flush_postexec")
def _write_created_history(session, _context) -> None:
    """A32: the history rows of the records this flush inserted, in one INSERT on the
    flush's transaction (an import creates thousands: as ORM objects they were a tenth of
    its time). A record not yet flushed keeps its row waiting; one that left the session
    loses it, as the record itself is not written."""
    queued = session.info.get(_CREATED)
    if not queued:
        return
    now = datetime.now()
    rows, waiting = [], []
    for r, values in queued:
        state = inspect(r)
        if state.has_identity and not state.deleted:
            rows.append({**values, "retiree_id": r.id, "at": now})
        elif state.pending:
            waiting.append((r, values))
    session.info[_CREATED] = waiting
    if rows:
        session.connection().execute(insert(RetireeHistory.__table__), rows)
        caching.note_written(session, RetireeHistory.__tablename__)


@event.listens_for(Session, "after_soft_rollback")
def _drop_created_history(session, _previous) -> None:
    """Rows queued for records a rollback took out of the session are dropped with them."""
    queued = session.info.get(_CREATED)
    if queued:
        session.info[_CREATED] = [(r, v) for r, v in queued if inspect(r).pending]


@event.listens_for(Session, "after_commit")
def _forget_created_history(session) -> None:
    session.info.pop(_CREATED, None)


def _require_active(r: Retiree) -> None:
    if r.management_state in ("deceased", "removed"):
        raise RuleViolations([RuleViolation(f"该人员状态为“{r.state_label}”，不能办理此业务",
                                            "management_state")])


def accept_archive(session, r: Retiree, on: date, actor: str) -> None:
    """A13: with the archive's acceptance the community of residence manages the person;
    A12: an enterprise retiree's employer must have signed the agreement (when a plugin
    answers the ``enterprise_agreement`` hook); A21/P2: the receiving archive centre
    (``archive_centre_for``) is recorded in the history."""
    _require_active(r)
    plugins = current_app.extensions["retiree_admin.plugins"]
    employer = r.employer.current_successor() if r.employer else None
    path = r.region_path
    if employer is not None:
        # The employer's district decides which plugins answer (a Park unit's retiree may
        # live anywhere); read it past the clerk's scope.
        with unscoped():
            district = session.get(Region, employer.district_id) if employer.district_id else None
        path = district.region_path if district else r.region_path
        verdict = plugins.hook_for(path, session).enterprise_agreement(enterprise=employer, on=on)
        if isinstance(verdict, str):
            raise RuleViolations([RuleViolation(verdict, "employer", "A12")])
    centre = plugins.hook_for(path, session).archive_centre_for(retiree=r)
    if r.party_cadre:
        raise RuleViolations([RuleViolation(
            "区以上党委管理的退休干部人事档案暂不移交", "party_cadre", "A29")])
    r.archive_transferred_on = on
    r.management_state = "community_managed"
    record_history(session, r, actor, "archive", f"档案移交接收：{centre}")
    emit(session, "archive_accepted", r.region_path, retiree=r)


def move(session, r: Retiree, to_community: Region, on: date, reason: str,
         actor: str) -> RetireeTransfer:
    """A32: move to another community (or out of the pooling area when ``to_community`` is
    None). Recorded as a transfer both sides can see, which keeps the person's name and
    number and both communities' full names as text (issue 14 item 1); the receiving
    side then manages the person. Runs past the scope on purpose: the row leaves the
    mover's subtree. Returns the move record."""
    _require_active(r)
    if not (reason or "").strip():
        raise RuleViolations([RuleViolation("请填写迁移原因", "reason")])
    old_path, old_community = r.region_path, r.community
    if to_community is not None and old_community is not None \
            and to_community.id == old_community.id:
        raise RuleViolations([RuleViolation("迁入社区与现所在社区相同", "community")])
    with unscoped(), session.no_autoflush:  # no_autoflush: as in prepare (A32)
        if to_community is None:
            r.residence_type, r.community = "outside", None
        else:
            r.residence_type, r.community = "local", to_community
        errors = _cross_checks(session, r, on)
        if errors:
            raise RuleViolations(errors)
        record_history(session, r, actor, "move", reason)
        r.region_path = r.compute_region_path()
        transfer = RetireeTransfer(
            retiree=r, from_community_id=old_community.id if old_community else None,
            to_community_id=to_community.id if to_community else None,
            from_path=old_path, region_path=r.region_path, moved_on=on, reason=reason,
            actor=actor, retiree_name=r.name, personal_no=r.personal_no,
            from_community_name=old_community.full_name if old_community else OUT_OF_AREA,
            to_community_name=to_community.full_name if to_community else OUT_OF_AREA)
        session.add(transfer)
        session.flush()
    emit(session, "retiree_moved", r.region_path, retiree=r, from_region=old_community,
         to_region=to_community)
    return transfer


def report_death(session, r: Retiree, death_date: date, cause: str, reporter: str,
                 actor: str) -> None:
    """A16: a death is recorded with date, cause and reporter; the record is kept."""
    _require_active(r)
    errors = []
    if death_date is None:
        errors.append(RuleViolation("请填写死亡日期", "death_date"))
    elif death_date > date.today():
        errors.append(RuleViolation("死亡日期不能晚于今天", "death_date"))
    elif r.birth_date and death_date < r.birth_date:
        errors.append(RuleViolation("死亡日期不能早于出生日期", "death_date"))
    if not (reporter or "").strip():
        errors.append(RuleViolation("请填写报告人", "death_reporter"))
    if errors:
        raise RuleViolations(errors)
    r.death_date, r.death_cause, r.death_reporter = death_date, cause, reporter.strip()
    r.management_state = "deceased"
    record_history(session, r, actor, "death", cause)
    emit(session, "retiree_died", r.region_path, retiree=r)


def remove(session, r: Retiree, reason: str, actor: str) -> None:
    """No hard delete: a data-entry mistake becomes a recorded removal with its reason."""
    if r.management_state == "removed":
        raise RuleViolations([RuleViolation("该记录已注销", "management_state")])
    if not (reason or "").strip():
        raise RuleViolations([RuleViolation("注销须填写原因（仅限录入错误）", "reason")])
    r.removed_reason = reason.strip()
    r.management_state = "removed"
    record_history(session, r, actor, "remove", reason)
