"""The basic-information database (A30): retirees, their employers and agencies,
their history and their moves."""
from __future__ import annotations

from datetime import date, datetime

from flask import current_app
from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from core.regions import Region
from core.registry import validators
from core.registry.fields import (
    BENEFIT,
    CATEGORY,
    ENTERPRISE_STATUS,
    FAMILY_STATUS,
    FIELDS_BY_NAME,
    GENDER,
    MANAGEMENT_STATE,
    POLITICAL_STATUS,
    RESIDENCE_TYPE,
    RETIREMENT_TYPE,
    SERIOUS_ILLNESS,
)
from core.scoping import SCOPE_PATTERN, Scoped, ScopedMixin, unscoped


class Enterprise(Model):
    """An insured employer (参保单位) with its unit number (F3, A12, A21)."""

    __tablename__ = "enterprise"
    __lookup__ = ("unit_no", "name")  # chosen by typing, never a drop-down (core.views.lookup)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_no: Mapped[str] = mapped_column(String(20), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    industry_authority: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active",
                                        info={"choices": ENTERPRISE_STATUS})
    successor_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id"))
    # The district where the unit is registered (A12/P1: a Park unit signs with the Park).
    district_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    # A21: member of the 市工投公司 system groups or 创元集团.
    gongtou_group: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    address: Mapped[str | None] = mapped_column(String(200))
    contact_person: Mapped[str | None] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(30))

    successor: Mapped[Enterprise | None] = relationship(remote_side=[id])
    district = relationship("Region")

    def __str__(self) -> str:
        return f"{self.name}（{self.unit_no}）"

    @property
    def status_label(self) -> str:
        return ENTERPRISE_STATUS.get(self.status, self.status)

    def current_successor(self) -> Enterprise:
        """F3: follow the chain of successors of a closed, bankrupt or restructured
        unit to the one that now answers for its retirees."""
        node, seen = self, set()
        while node.successor is not None and node.id not in seen:
            seen.add(node.id)
            node = node.successor
        return node


class EmploymentAgency(Model):
    """An employment management agency keeping archives of self-employed and 协保
    retirees (F3, A27)."""

    __tablename__ = "employment_agency"
    __lookup__ = ("code", "name")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    address: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(30))

    def __str__(self) -> str:
        return self.name


class Retiree(ScopedMixin, Model):
    """One person of the registration form (基本信息登记表, F1–F9).

    Scoped to the community of residence; an outside resident (F5, A19) belongs to the
    city centre. Never hard-deleted: removal is a state with a reason.
    """

    __tablename__ = "retiree"
    __lookup__ = ("personal_no", "name")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), nullable=False, index=True)
    name_initials: Mapped[str] = mapped_column(String(50), nullable=False, default="", index=True)
    gender: Mapped[str] = mapped_column(String(6), nullable=False, info={"choices": GENDER})
    birth_date: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    id_card_no: Mapped[str] = mapped_column(String(18), unique=True, nullable=False)
    personal_no: Mapped[str] = mapped_column(String(8), unique=True, nullable=False)
    retirement_date: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    retirement_type: Mapped[str] = mapped_column(String(20), nullable=False,
                                                 info={"choices": RETIREMENT_TYPE})
    benefit: Mapped[str] = mapped_column(String(24), nullable=False, info={"choices": BENEFIT})
    political_status: Mapped[str | None] = mapped_column(
        String(20), info={"choices": POLITICAL_STATUS})
    phone: Mapped[str | None] = mapped_column(String(20))

    category: Mapped[str] = mapped_column(String(24), nullable=False, index=True,
                                          info={"choices": CATEGORY})
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id"), index=True)
    custodian_agency_id: Mapped[int | None] = mapped_column(
        ForeignKey("employment_agency.id"), index=True)
    party_cadre: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    residence_type: Mapped[str] = mapped_column(String(10), nullable=False, index=True,
                                                info={"choices": RESIDENCE_TYPE})
    community_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    hukou_address: Mapped[str | None] = mapped_column(String(200))
    residence_address: Mapped[str | None] = mapped_column(String(200))

    family_status: Mapped[str] = mapped_column(String(20), nullable=False, default="none",
                                               index=True, info={"choices": FAMILY_STATUS})
    serious_illness: Mapped[str] = mapped_column(String(20), nullable=False, default="none",
                                                 index=True, info={"choices": SERIOUS_ILLNESS})
    widowed_alone: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    health_notes: Mapped[str | None] = mapped_column(String(500))

    employer_handler_name: Mapped[str | None] = mapped_column(String(50))
    employer_handler_date: Mapped[date | None] = mapped_column(Date)
    community_worker_name: Mapped[str | None] = mapped_column(String(50))
    community_worker_date: Mapped[date | None] = mapped_column(Date)
    retiree_signed_name: Mapped[str | None] = mapped_column(String(50))
    retiree_signed_date: Mapped[date | None] = mapped_column(Date)
    form_complete: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                index=True)

    management_state: Mapped[str] = mapped_column(String(20), nullable=False,
                                                  default="employer_managed", index=True,
                                                  info={"choices": MANAGEMENT_STATE})
    archive_transferred_on: Mapped[date | None] = mapped_column(Date)
    death_date: Mapped[date | None] = mapped_column(Date, index=True)
    death_cause: Mapped[str | None] = mapped_column(String(200))
    death_reporter: Mapped[str | None] = mapped_column(String(50))
    removed_reason: Mapped[str | None] = mapped_column(String(200))

    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now)
    created_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now,
                                                 onupdate=datetime.now)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    employer: Mapped[Enterprise | None] = relationship()
    custodian_agency: Mapped[EmploymentAgency | None] = relationship()
    community = relationship("Region", foreign_keys=[community_id])

    __mapper_args__ = {"version_id_col": version}

    def __str__(self) -> str:
        return f"{self.name}（{self.personal_no}）"

    def compute_region_path(self) -> str:
        """F5, A19: a local resident belongs to the community's subtree; an outside
        resident to the city centre."""
        if self.residence_type == "local" and self.community is not None:
            return self.community.region_path
        return f"/{current_app.config['CITY']['code']}/"

    # --- labels for screens ---------------------------------------------------------
    @property
    def gender_label(self) -> str:
        return GENDER.get(self.gender, "")

    @property
    def category_label(self) -> str:
        return CATEGORY.get(self.category, "")

    @property
    def residence_label(self) -> str:
        return RESIDENCE_TYPE.get(self.residence_type, "")

    @property
    def family_label(self) -> str:
        return FAMILY_STATUS.get(self.family_status, "")

    @property
    def illness_label(self) -> str:
        return SERIOUS_ILLNESS.get(self.serious_illness, "")

    @property
    def state_label(self) -> str:
        return MANAGEMENT_STATE.get(self.management_state, "")

    @property
    def id_card_masked(self) -> str:
        return validators.mask_id_card(self.id_card_no)

    @property
    def phone_masked(self) -> str:
        return validators.mask_phone(self.phone)

    @property
    def age(self) -> int:
        today = date.today()
        b = self.birth_date
        return today.year - b.year - ((today.month, today.day) < (b.month, b.day))

    @property
    def very_old(self) -> bool:
        """A17: 高龄, derived from age (VERY_OLD_AGE, 80 by default)."""
        return self.age >= current_app.config["VERY_OLD_AGE"]


class RetireeHistory(Scoped, Model):
    """A32: every change to a retiree — who, when, what, old → new, why. Visible where
    the retiree is."""

    __tablename__ = "retiree_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    retiree_id: Mapped[int] = mapped_column(ForeignKey("retiree.id"), nullable=False, index=True)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    action: Mapped[str] = mapped_column(String(20), nullable=False)
    field: Mapped[str | None] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(String(200))

    retiree: Mapped[Retiree] = relationship()

    @classmethod
    def scope_criterion(cls):
        return cls.retiree_id.in_(select(Retiree.id).where(Retiree.region_path.like(SCOPE_PATTERN)))

    # Issue 12: the values as every screen shows them. ID numbers and phones are masked
    # again with today's mask (rows written under an earlier, reversible mask included);
    # health values only for roles with the health permission, as the audit trail does.
    MASKED = {"id_card_no": validators.mask_id_card, "phone": validators.mask_phone}
    HEALTH = frozenset({"serious_illness", "health_notes"})
    HEALTH_HIDDEN = "（健康信息，无权查看）"

    def _label(self, value: str | None) -> str:
        if value is None:
            return ""
        if self.field in self.MASKED:
            return self.MASKED[self.field](value)
        if self.field in self.HEALTH:
            from core.release.service import health_visible

            if not health_visible():
                return self.HEALTH_HIDDEN
        if self.field in self.REFERENCES:
            return self._referenced(value)
        spec = FIELDS_BY_NAME.get(self.field)
        if spec is not None and spec.kind == "bool":
            return {"True": "是", "False": "否"}.get(value, value)
        choices = MANAGEMENT_STATE if self.field == "management_state" else \
            (spec.choices if spec is not None else None) or {}
        return choices.get(value, value)

    # A reference is recorded by its id (service.TRACKED): shown as what it names.
    REFERENCES = {"employer_id": Enterprise, "custodian_agency_id": EmploymentAgency,
                  "community_id": Region}

    def _referenced(self, value: str) -> str:
        """The employer, agency or community an id names, by name; a community outside
        the reader's region too (the one a person moved from): names of units and
        regions are not personal data. Read as plain columns: no out-of-scope region
        enters the session, where a later ``get`` would find it unchecked."""
        session = object_session(self)
        if session is None or not value.isdigit():
            return value
        model = self.REFERENCES[self.field]
        if model is not Region:
            target = session.get(model, int(value))
            return str(target) if target is not None else f"（已不存在，编号{value}）"
        with unscoped():
            path = session.scalar(select(Region.region_path).where(Region.id == int(value)))
            if path is None:
                return f"（已不存在，编号{value}）"
            codes = [code for code in path.split("/") if code]
            names = dict(session.execute(
                select(Region.code, Region.name).where(Region.code.in_(codes),
                                                       Region.level != "city")).all())
        return "".join(names[code] for code in codes if code in names)

    @property
    def old_label(self) -> str:
        """A32: the old value as the screens spell it (a code as its label, a box as 是/否)."""
        return self._label(self.old_value)

    @property
    def new_label(self) -> str:
        """A32: the new value as the screens spell it."""
        return self._label(self.new_value)


# The other side of a move out of the pooling area (A19), as the move record names it.
OUT_OF_AREA = "统筹范围以外（居外人员）"


class RetireeTransfer(ScopedMixin, Model):
    """A32: a move between communities, visible to both the old and the new side."""

    __tablename__ = "retiree_transfer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    retiree_id: Mapped[int] = mapped_column(ForeignKey("retiree.id"), nullable=False, index=True)
    from_community_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    to_community_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    from_path: Mapped[str] = mapped_column(String(120), nullable=False, index=True)
    moved_on: Mapped[date] = mapped_column(Date, nullable=False)
    reason: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now)
    # Issue 14 item 1: copied at the time of the move, so that the sender, who no longer
    # sees the person nor the receiving community, can still read its own move records.
    retiree_name: Mapped[str | None] = mapped_column(String(50))
    personal_no: Mapped[str | None] = mapped_column(String(8))
    from_community_name: Mapped[str | None] = mapped_column(String(300))
    to_community_name: Mapped[str | None] = mapped_column(String(300))

    retiree: Mapped[Retiree] = relationship()
    from_community = relationship("Region", foreign_keys=[from_community_id])
    to_community = relationship("Region", foreign_keys=[to_community_id])

    @classmethod
    def scope_criterion(cls):
        return or_(cls.region_path.like(SCOPE_PATTERN), cls.from_path.like(SCOPE_PATTERN))
