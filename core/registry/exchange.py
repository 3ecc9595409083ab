"""Excel import and export of the registry (A30–A31), wired to the database.

Every imported row goes through ``service.prepare`` — the same rules as the screens and
the API — so a bad row is reported and changes nothing while good rows are kept. Rows are
checked and written in chunks (issue 7): what the checks look up is read once per chunk,
and a chunk the database refuses is done again row by row, each row in its own savepoint.
Rows are matched on the personal number (F4): re-importing a file adds nobody, and
changes to existing people are recorded in their history. Imports run with the importing
user's scope: a row for a community outside it is refused.
"""
from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from itertools import chain, islice

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import aliased, selectinload

from core import events
from core.errors import RuleViolation, RuleViolations, ScopeViolation
from core.regions import Region
from core.registry import excel, import_workers, service
from core.registry.fields import FORM_FIELDS, MANAGEMENT_STATE
from core.registry.models import EmploymentAgency, Enterprise, Retiree
from core.registry.validators import (
    is_masked_form,
    mask_id_card,
    mask_phone,
    normalize_id_card_no,
    normalize_personal_no,
)
from core.scoping import current_scope, path_in_scope, unscoped

PLAIN_FIELDS = [f.name for f in FORM_FIELDS if f.kind != "ref"]
IMPORTED = [*PLAIN_FIELDS, "employer", "custodian_agency", "community"]
# The version lets an import refuse a row whose person changed since the export (issue #13
# item 3); the state lets it refuse new people who are not 单位管理 (item 4).
EXPORT_EXTRAS = [("management_state", excel.META_COLUMNS["management_state"]),
                 ("form_complete", "登记表完整"), ("version", excel.META_COLUMNS["version"])]


# PIPL: exports show ID numbers and phones masked unless an approved release request
# (A33) names them; health fields leave only with ``health`` (core.release).
MASKED = {"id_card_no": mask_id_card, "phone": mask_phone}
HEALTH_FIELDS = ("serious_illness", "health_notes")


def retiree_row(r: Retiree, unmasked: frozenset[str] = frozenset(), health: bool = True) -> dict:
    row = {name: getattr(r, name) for name in PLAIN_FIELDS}
    row["employer"] = r.employer.unit_no if r.employer else None
    row["custodian_agency"] = r.custodian_agency.code if r.custodian_agency else None
    row["community"] = r.community.code if r.community else None
    row["management_state"] = r.management_state
    row["form_complete"] = r.form_complete
    row["version"] = r.version
    return _as_exported(row, unmasked, health)


def _as_exported(row: dict, unmasked: frozenset[str], health: bool) -> dict:
    """PIPL masking, health fields blanked without ``health``, the state as its label."""
    for name, mask in MASKED.items():
        if name not in unmasked and row[name]:
            row[name] = mask(row[name])
    if not health:
        for name in HEALTH_FIELDS:
            row[name] = None
    row["management_state"] = MANAGEMENT_STATE.get(row["management_state"], "")
    return row


def export_retirees(query, target, watermark: str | None = None,
                    unmasked: frozenset[str] = frozenset(), health: bool = True,
                    limit: int | None = None) -> int:
    """Stream the rows of ``query`` (already scoped, filtered and ordered; at most
    ``limit``) to an xlsx; memory stays flat in the row count. The rows are read as plain columns, with the codes of
    the employer, agency and community joined in: no ORM object per person (issue 7)."""
    employer, agency, community = (aliased(Enterprise), aliased(EmploymentAgency),
                                   aliased(Region))
    rows = (query.outerjoin(employer, Retiree.employer)
            .outerjoin(agency, Retiree.custodian_agency)
            .outerjoin(community, Retiree.community)
            .with_entities(*(getattr(Retiree, name) for name in PLAIN_FIELDS),
                           Retiree.management_state, Retiree.form_complete, Retiree.version,
                           employer.unit_no.label("employer"),
                           agency.code.label("custodian_agency"),
                           community.code.label("community"))
            .limit(limit).yield_per(5000))
    return excel.write_export(target, (_as_exported(row._asdict(), unmasked, health)
                                       for row in rows),
                              extra_columns=EXPORT_EXTRAS, watermark=watermark,
                              withheld=() if health else HEALTH_FIELDS)


@dataclass
class ImportResult:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, dict, list[str]]] = field(default_factory=list)
    #: The sheet read and the columns ignored (issue #13 item 6), shown before the counts.
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return len(self.errors)

    def summary(self) -> dict[str, int]:
        return {"总行数": self.total, "新增": self.created, "更新": self.updated,
                "无变化": self.unchanged, "失败": self.failed}

    def overview(self) -> dict[str, str | int]:
        """The notes, then the counts: what the CLI prints and a job's result shows."""
        return {**self.notes, **self.summary()}

    def add(self, row_no: int, shown: dict, outcome: str | list[str]) -> None:
        self.total += 1
        if isinstance(outcome, list):
            self.errors.append((row_no, shown, outcome))
        else:
            setattr(self, outcome, getattr(self, outcome) + 1)


# What a row's references name, how they are looked up, and the refusal when absent.
REFERENCES = (
    ("employer", Enterprise, "unit_no", "原工作单位编号{}不存在"),
    ("custodian_agency", EmploymentAgency, "code", "就业管理机构编号{}不存在"),
    ("community", Region, "code", "社区代码{}不存在或不在本辖区内"),
)
DB_REFUSED = "数据库拒绝保存此行（内容超长，或与同时登记的记录冲突），请核对后重新导入"
STALE = "该人员在导出后已被修改，请重新导出"


def _refused_as_new(raw: dict) -> list[str] | None:
    """Why a row may not register a new person: issue #13 item 4 — the import registers
    people 单位管理 only; a row an export marks 社区管理, 已死亡 or 已注销 (a move to a new
    installation) is refused rather than silently made 单位管理 without its dates; item 13 —
    a masked ID number cannot register anyone."""
    state = raw.get("_management_state")
    if state not in (None, "", MANAGEMENT_STATE["employer_managed"]):
        return [f"文件中该人员的管理状态为“{state}”：导入只能登记单位管理的新人员，"
                "社区管理、已死亡、已注销的人员请先按单位管理登记，再办理档案移交、死亡报告或注销"]
    if "*" in str(raw.get("id_card_no") or ""):
        return ["身份证号为脱敏号码（含*），不能用于登记新人员，请填写完整的18位身份证号"]
    return None


def _stale(r: Retiree, raw: dict) -> bool:
    """Issue #13 item 3: the row comes from an export taken before the record last changed."""
    version = raw.get("_version")
    return version is not None and version != r.version


class _Refs:
    """The unit numbers, agency codes and community codes of one chunk, looked up
    together: organisations city-wide, communities (with their street and district, which
    the pooling-area rule reads) inside the importer's scope. Issue #14 item 14: a value
    that is no code is looked up as a name, accepted where it names one organisation or
    one community in scope, refused naming the candidates where it names several."""

    def __init__(self, session, rows: list[dict]):
        self.found: dict[str, dict] = {}
        self.named: dict[str, dict[str, list]] = {}
        for name, model, key, _ in REFERENCES:
            wanted = {str(raw[name]) for raw in rows if raw.get(name) not in (None, "")}
            self.found[name] = {getattr(o, key): o
                                for o in self._lookup(session, model, getattr(model, key), wanted)}
            self.named[name] = {}
            for o in self._lookup(session, model, model.name, wanted - self.found[name].keys()):
                self.named[name].setdefault(o.name, []).append(o)

    @staticmethod
    def _lookup(session, model, column, wanted: set[str]) -> list:
        if not wanted:
            return []
        query = select(model).where(column.in_(wanted))
        if model is Region:
            query = query.where(Region.level == "community").options(
                selectinload(Region.parent).selectinload(Region.parent))
            return session.scalars(query).all()
        with unscoped():  # organisations are city-wide
            return session.scalars(query).all()

    def resolve(self, raw: dict) -> list[RuleViolation]:
        errors = []
        for name, _, key, refusal in REFERENCES:
            value = raw.get(name)
            if value in (None, ""):
                raw[name] = None
                continue
            raw[name] = self.found[name].get(str(value))
            if raw[name] is None:
                named = self.named[name].get(str(value), [])
                if len(named) == 1:
                    raw[name] = named[0]
                elif named:
                    errors.append(RuleViolation(_ambiguous(name, str(value), key, named), name))
                else:
                    errors.append(RuleViolation(refusal.format(value), name))
        return errors


def template_references(session) -> excel.References:
    """Issue #14 item 14: the template's code list — the communities of the user's scope
    (Region is scoped), and every enterprise and agency (city-wide)."""
    communities = session.scalars(
        select(Region).where(Region.level == "community").order_by(Region.code)
        .options(selectinload(Region.parent).selectinload(Region.parent))).all()
    with unscoped():
        enterprises = session.execute(
            select(Enterprise.unit_no, Enterprise.name).order_by(Enterprise.unit_no)).all()
        agencies = session.execute(
            select(EmploymentAgency.code, EmploymentAgency.name)
            .order_by(EmploymentAgency.code)).all()
    return excel.References(
        [(c.code, c.name, c.parent.full_name if c.parent else "") for c in communities],
        [tuple(e) for e in enterprises], [tuple(a) for a in agencies])


def _ambiguous(name: str, value: str, key: str, candidates: list) -> str:
    """Issue #14 item 14: a name shared by several organisations or communities."""
    shown = "、".join(f"{getattr(o, key)}（{o.full_name if isinstance(o, Region) else o.name}）"
                     for o in sorted(candidates, key=lambda o: getattr(o, key)))
    return (f"{excel.REF_LABELS[name]}“{value}”同名的有{len(candidates)}个：{shown}，"
            f"请改填{excel.HEADERS[name]}")


def _apply(r: Retiree, raw: dict) -> bool:
    changed = False
    for name in IMPORTED:
        if name in MASKED and raw.get(name) and (
                raw[name] == MASKED[name](getattr(r, name))
                or is_masked_form(raw[name], getattr(r, name))):
            continue  # a masked export (this mask or an earlier one) keeps the real value
        if name in raw and getattr(r, name) != raw[name]:
            setattr(r, name, raw[name])
            changed = True
    return changed


def _fill(r: Retiree, raw: dict) -> None:
    """``_apply`` for a new record: nothing to compare with, every given value is set."""
    for name in IMPORTED:
        value = raw.get(name)
        if value is not None:
            setattr(r, name, value)


CHUNK_ROWS = 500


def import_limits() -> dict[str, float]:
    """Issue #13 item 11: the configured limits of an import file, for ``excel.read_rows``
    — the upload (IMPORT_MAX_BYTES), the compression ratio (IMPORT_MAX_RATIO) and the
    unpacked size (IMPORT_MAX_UNPACKED, by default the upload cap times the ratio)."""
    config = current_app.config
    max_bytes = int(config.get("IMPORT_MAX_BYTES") or excel.DEFAULT_MAX_BYTES)
    ratio = float(config.get("IMPORT_MAX_RATIO") or excel.DEFAULT_MAX_RATIO)
    unpacked = config.get("IMPORT_MAX_UNPACKED") or int(max_bytes * ratio)
    return {"max_bytes": max_bytes, "max_ratio": ratio, "max_uncompressed": int(unpacked)}


def import_retirees(session, source, actor: str,
                    progress: Callable[[int], None] | None = None,
                    chunk_rows: int = CHUNK_ROWS, workers: int | None = None,
                    overwrite: bool = False) -> ImportResult:
    """A31: validate and upsert every row; returns counts and per-row errors. Rows go in
    chunks, each committed: what their checks look up is read for the whole chunk in a
    few queries, and the chunk is written with one flush in a savepoint. Should the
    database still refuse it, the chunk is done again row by row, each row in its own
    savepoint, so the bad row is reported and the others are kept. A file of more than
    ``IMPORT_PARALLEL_FROM_ROWS`` rows on PostgreSQL is checked and written by
    ``workers`` processes (default ``IMPORT_WORKERS``; see ``import_workers``).
    ``source`` is a file or what ``excel.read_rows`` returned for it. A row whose person
    changed since the export it came from is refused unless ``overwrite``."""
    sheet = (source if isinstance(source, excel.SheetRows)
             else excel.read_rows(source, **import_limits()))
    result = ImportResult(notes=sheet.notes())
    rows = map(_without_version, sheet) if overwrite else sheet
    workers = import_workers.worker_count(session) if workers is None else workers
    split_from = current_app.config["IMPORT_PARALLEL_FROM_ROWS"]
    head = list(islice(rows, split_from)) if workers > 1 else []

    def done(chunk: list[tuple[int, dict]], outcomes: list[str | list[str]]) -> None:
        for (row_no, row_shown), outcome in zip(chunk, outcomes, strict=True):
            result.add(row_no, row_shown, outcome)
        if progress:
            progress(result.total)
        session.commit()  # the chunk, and on SQLite the progress written on this session

    if workers > 1 and len(head) == split_from:
        session.commit()  # nothing of this session's is held while the workers write
        import_workers.import_split(chain(head, rows), workers, actor, chunk_rows, _shown,
                                    done)
        result.errors.sort(key=lambda error: error[0])
        return result
    plugins = current_app.extensions["retiree_admin.plugins"]
    rows = chain(head, rows)
    with _collected_per_chunk() as collect:
        while chunk := list(islice(rows, chunk_rows)):
            shown = [(row_no, _shown(raw)) for row_no, raw in chunk]
            with plugins.settings_read_once(session):
                outcomes = _import_chunk(session, [raw for _, raw in chunk], actor)
            done(shown, outcomes)
            collect()
    return result


def _without_version(item: tuple[int, dict]) -> tuple[int, dict]:
    item[1].pop("_version", None)
    return item


def _shown(raw: dict) -> dict:
    """What the error report repeats of a row: every column the file had, as it was read
    (a cell that could not be read as Excel shows it), and an export's state and version
    — so the corrected report imports again (issue #14 item 15)."""
    display = raw.get("_display", {})
    shown = {k: display.get(k, v) for k, v in raw.items() if not k.startswith("_")}
    for name in excel.META_COLUMNS:
        if raw.get("_" + name) is not None:
            shown[name] = raw["_" + name]
    return shown


@contextmanager
def _collected_per_chunk():
    """The garbage collector's full runs walk every object of the process — half a
    million of the app's own (mappers, views, translations) — and a chunk's records
    trigger many: a fifth of an import's time. So during an import the objects that
    existed before it are left out (``gc.freeze``), and the collector runs once after
    each chunk instead of whenever allocations add up."""
    enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield gc.collect
    finally:
        if enabled:
            gc.enable()
        gc.unfreeze()


def _import_chunk(session, rows: list[dict], actor: str) -> list[str | list[str]]:
    originals = [dict(raw) for raw in rows]
    refs = _Refs(session, rows)
    mark = events.queued(session)
    savepoint = session.begin_nested()
    try:
        with session.no_autoflush:
            batch = _Batch(session, actor, refs, rows)
            outcomes = [batch.import_row(raw) for raw in rows]
        session.flush()
        savepoint.commit()
    except (DBAPIError, ScopeViolation):
        savepoint.rollback()
        events.drop_queued(session, mark)
        outcomes = [_checked_row(session, raw, actor, refs) for raw in originals]
    return outcomes


def _personal_no(raw: dict) -> str | None:
    try:
        return normalize_personal_no(raw.get("personal_no"))
    except RuleViolation:
        return None


def _id_card_no(raw: dict) -> str | None:
    try:
        return normalize_id_card_no(raw.get("id_card_no"))
    except RuleViolation:
        return None


class _Batch:
    """The rows of one chunk, checked against what was looked up for the whole chunk (the
    people in scope by personal number, the numbers taken city-wide) and written at the
    end. A person the file names twice is written before the second row is checked, so
    that row updates the person just written, as when every row was written at once."""

    def __init__(self, session, actor: str, refs: _Refs, rows: list[dict]):
        self.session, self.actor, self.refs = session, actor, refs
        personal_nos = {n for n in map(_personal_no, rows) if n}
        self.existing = {r.personal_no: r for r in session.scalars(
            select(Retiree).where(Retiree.personal_no.in_(personal_nos)))}
        self.taken = service.TakenNumbers(session, personal_nos,
                                          {n for n in map(_id_card_no, rows) if n})
        self.written: set[str] = set()  # personal numbers written since the last flush
        self.scope = current_scope()

    def import_row(self, raw: dict) -> str | list[str]:
        errors = list(raw.pop("_errors", [])) + self.refs.resolve(raw)
        if errors:
            return [e.message for e in errors]
        try:
            personal_no = normalize_personal_no(raw.get("personal_no"))
        except RuleViolation as exc:
            return [exc.message]
        if personal_no in self.written:
            self.session.flush()
            self.written.clear()
        r = self.existing.get(personal_no)
        new = r is None
        if new:
            if self.taken.holder("personal_no", personal_no) is not None:
                return [f"个人编号{personal_no}已在其他辖区登记，不能重复登记"]
            if refusal := _refused_as_new(raw):
                return refusal
            r = Retiree()
            _fill(r, raw)
        elif not _apply(r, raw):
            return "unchanged"
        elif _stale(r, raw):
            self.session.expire(r)
            return [STALE]
        if not path_in_scope(r.compute_region_path(), self.scope):
            # Refused by the write guard at flush: the row goes alone, as it always did.
            if not new:
                self.session.expire(r)
            self.session.flush()
            self.written.clear()
            return _import_row(self.session, raw, self.actor)
        if new:
            self.session.add(r)
        try:
            service.prepare(self.session, r, self.actor, action="import",
                            reason=None if new else "Excel导入更新", taken=self.taken)
        except (RuleViolations, ScopeViolation) as exc:
            if new:
                self.session.expunge(r)
            else:
                self.session.expire(r)
            return _messages(exc)
        self.taken.claim(r)
        self.written.add(personal_no)
        self.existing[personal_no] = r
        return "created" if new else "updated"


def _messages(exc: RuleViolations | ScopeViolation) -> list[str]:
    if isinstance(exc, RuleViolations):
        return [v.message for v in exc.violations]
    return [exc.message]


def _checked_row(session, raw: dict, actor: str, refs: _Refs) -> str | list[str]:
    errors = list(raw.pop("_errors", [])) + refs.resolve(raw)
    if errors:
        return [e.message for e in errors]
    return _import_row(session, raw, actor)


def _import_row(session, raw: dict, actor: str) -> str | list[str]:
    """One row in its own savepoint, looked up and written alone."""
    try:
        personal_no = normalize_personal_no(raw.get("personal_no"))
    except RuleViolation as exc:
        return [exc.message]
    mark = events.queued(session)
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
            if refusal := _refused_as_new(raw):
                savepoint.rollback()
                return refusal
            r = Retiree()
            _fill(r, raw)
            session.add(r)
            service.prepare(session, r, actor, action="import")
            session.flush()
            savepoint.commit()
            return "created"
        if not _apply(existing, raw):
            savepoint.rollback()
            return "unchanged"
        if _stale(existing, raw):
            savepoint.rollback()
            return [STALE]
        service.prepare(session, existing, actor, action="import", reason="Excel导入更新")
        session.flush()
        savepoint.commit()
        return "updated"
    except (RuleViolations, ScopeViolation, DBAPIError) as exc:
        savepoint.rollback()
        events.drop_queued(session, mark)
        return [DB_REFUSED] if isinstance(exc, DBAPIError) else _messages(exc)


def write_report(target, result: ImportResult) -> int:
    return excel.write_error_report(target, result.errors, summary=result.summary(),
                                    notes=result.notes)


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

