"""The Park agreement (P1–P4) with its versions, duty checklists and originals, and the
Park's service list of city/district retirees living in the Park (A45).

Every row is scoped to the Park (or, for a served retiree, the Park community serving
them): the Park's users see and change them, the city sees them, other districts not.
"""
from __future__ import annotations

from datetime import date, datetime

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.regions import Region
from core.registry.models import Enterprise
from core.scoping import ScopedMixin, unscoped
from districts.industrial_park.texts import (
    BASIS,
    DUTY_STATUS,
    HOLDERS,
    PARTY_B,
    RESIDENT_STATUS,
    VERSION_STATUS,
)


def enterprise_district(enterprise: Enterprise) -> Region | None:
    """Where ``enterprise`` is registered, read past the user's scope (a community clerk
    accepting an archive must still learn that the employer is a Park unit)."""
    with unscoped():
        if enterprise.district_id is not None:
            return db.session.get(Region, enterprise.district_id)
        return enterprise.district


class ParkAgreement(ScopedMixin, Model):
    """P1: the agreement between an insured unit of the Park (party A, with its unit
    number) and the Park's enterprise retiree service centre (party B). One per unit;
    its text and signatures live in its versions (P4)."""

    __tablename__ = "park_agreement"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_no: Mapped[str] = mapped_column(String(50), unique=True, nullable=False)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), unique=True,
                                               nullable=False)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now)

    enterprise: Mapped[Enterprise] = relationship()
    versions: Mapped[list[ParkAgreementVersion]] = relationship(
        back_populates="agreement", order_by="ParkAgreementVersion.version_no")

    def __str__(self) -> str:
        return f"{self.agreement_no}（{self.enterprise.name if self.enterprise else ''}）"

    def compute_region_path(self) -> str | None:
        district = enterprise_district(self.enterprise) if self.enterprise else None
        return district.region_path if district is not None else None

    @property
    def unit_no(self) -> str:
        return self.enterprise.unit_no if self.enterprise else ""

    def version_in_force(self, on: date) -> ParkAgreementVersion | None:
        return next((v for v in reversed(self.versions) if v.in_force_on(on)), None)

    @property
    def current_version(self) -> ParkAgreementVersion | None:
        return self.version_in_force(date.today())

    @property
    def latest_version(self) -> ParkAgreementVersion | None:
        return self.versions[-1] if self.versions else None

    @property
    def current_label(self) -> str:
        current = self.current_version
        return f"第{current.version_no}版（{current.effective_from}起）" if current else "无生效版本"


class ParkAgreementVersion(ScopedMixin, Model):
    """P4: one signed text of the agreement. A new version is made when policy changes;
    once both parties have signed and stamped it (representatives, phones, dates) it is
    in force, the one before is superseded from that day and kept unchanged."""

    __tablename__ = "park_agreement_version"
    __table_args__ = (UniqueConstraint("agreement_id", "version_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("park_agreement.id"), nullable=False,
                                              index=True)
    version_no: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="draft",
                                        info={"choices": VERSION_STATUS})
    basis: Mapped[str] = mapped_column(String(100), nullable=False, default=BASIS)
    revision_reason: Mapped[str | None] = mapped_column(String(300))
    # P1: party A as printed on this version (the unit may be renamed later).
    party_a_name: Mapped[str] = mapped_column(String(200), nullable=False)
    party_a_unit_no: Mapped[str] = mapped_column(String(20), nullable=False)
    party_a_representative: Mapped[str | None] = mapped_column(String(50))
    party_a_phone: Mapped[str | None] = mapped_column(String(30))
    party_a_signed_on: Mapped[date | None] = mapped_column(Date)
    party_a_signed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    party_a_stamped: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    party_b_name: Mapped[str] = mapped_column(String(100), nullable=False, default=PARTY_B)
    party_b_representative: Mapped[str | None] = mapped_column(String(50))
    party_b_phone: Mapped[str | None] = mapped_column(String(30))
    party_b_signed_on: Mapped[date | None] = mapped_column(Date)
    party_b_signed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    party_b_stamped: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    effective_from: Mapped[date | None] = mapped_column(Date)
    superseded_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now,
                                                 onupdate=datetime.now)

    agreement: Mapped[ParkAgreement] = relationship(back_populates="versions")
    duties: Mapped[list[ParkAgreementDuty]] = relationship(
        back_populates="version",
        order_by=lambda: [ParkAgreementDuty.party, ParkAgreementDuty.item_no])
    originals: Mapped[list[ParkAgreementOriginal]] = relationship(
        back_populates="version", order_by="ParkAgreementOriginal.copy_no")

    def __str__(self) -> str:
        no = self.agreement.agreement_no if self.agreement else ""
        return f"{no} 第{self.version_no}版"

    def compute_region_path(self) -> str | None:
        return self.agreement.compute_region_path() if self.agreement else None

    @property
    def status_label(self) -> str:
        """A draft one party has signed says so: 待乙方签订（甲方已签订）."""
        if self.status == "draft":
            done = [p for p in ("a", "b") if self.party_signed(p)]
            if len(done) == 1:
                other = "乙方" if done == ["a"] else "甲方"
                mine = "甲方" if done == ["a"] else "乙方"
                return f"待{other}签订（{mine}已签订）"
        return VERSION_STATUS.get(self.status, self.status)

    def party_signed(self, party: str) -> bool:
        """P4: the party's representative signed and stamped, with phone and date."""
        return all(getattr(self, f"party_{party}_{f}")
                   for f in ("representative", "phone", "signed_on", "signed", "stamped"))

    def in_force_on(self, on: date) -> bool:
        """In force from its effective date until the day a newer version takes over."""
        return (self.status in ("in_force", "superseded") and self.effective_from is not None
                and self.effective_from <= on
                and (self.superseded_on is None or on < self.superseded_on))

    def duties_of(self, party: str) -> list[ParkAgreementDuty]:
        return [d for d in self.duties if d.party == party]


class ParkAgreementDuty(ScopedMixin, Model):
    """P2, P3: one duty of party A or party B on a version, as a checklist item with its
    status, the date it was met and notes."""

    __tablename__ = "park_agreement_duty"
    __table_args__ = (UniqueConstraint("version_id", "party", "item_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("park_agreement_version.id"),
                                            nullable=False, index=True)
    party: Mapped[str] = mapped_column(String(1), nullable=False,
                                       info={"choices": {"A": "甲方", "B": "乙方"}})
    item_no: Mapped[int] = mapped_column(Integer, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending",
                                        info={"choices": DUTY_STATUS})
    done_on: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(String(300))
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now,
                                                 onupdate=datetime.now)

    version: Mapped[ParkAgreementVersion] = relationship(back_populates="duties")

    def __str__(self) -> str:
        return f"{self.party_label}第{self.item_no}项"

    def compute_region_path(self) -> str | None:
        return self.version.compute_region_path() if self.version else None

    @property
    def party_label(self) -> str:
        return "甲方" if self.party == "A" else "乙方"

    @property
    def status_label(self) -> str:
        return DUTY_STATUS.get(self.status, self.status)


class ParkAgreementOriginal(ScopedMixin, Model):
    """P4: one of the three originals of a version — one for party A, two for party B, of
    which one is filed — with the day it was handed over, who received it and, for the
    filed one, its archive reference."""

    __tablename__ = "park_agreement_original"
    __table_args__ = (UniqueConstraint("version_id", "copy_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("park_agreement_version.id"),
                                            nullable=False, index=True)
    copy_no: Mapped[int] = mapped_column(Integer, nullable=False)
    holder: Mapped[str] = mapped_column(String(10), nullable=False, info={"choices": HOLDERS})
    filed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    delivered_on: Mapped[date | None] = mapped_column(Date)
    received_by: Mapped[str | None] = mapped_column(String(50))
    archive_ref: Mapped[str | None] = mapped_column(String(50))
    updated_by: Mapped[str | None] = mapped_column(String(64))

    version: Mapped[ParkAgreementVersion] = relationship(back_populates="originals")

    def __str__(self) -> str:
        return f"正本{self.copy_no}（{self.holder_label}）"

    def compute_region_path(self) -> str | None:
        return self.version.compute_region_path() if self.version else None

    @property
    def holder_label(self) -> str:
        return HOLDERS.get(self.holder, self.holder) + ("存档" if self.filed else "留存")


class ParkResident(ScopedMixin, Model):
    """A45: a city/district retiree living in the Park, served by a Park community. The
    person stays an outside resident managed by the city centre (F5, A19); this row is
    the Park's copy of what it needs to serve them, first at the Park (pending), then
    at the community it is assigned to."""

    __tablename__ = "park_resident"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    retiree_id: Mapped[int] = mapped_column(ForeignKey("retiree.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    personal_no: Mapped[str] = mapped_column(String(8), nullable=False)
    residence_address: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    district_id: Mapped[int] = mapped_column(ForeignKey("region.id"), nullable=False)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending",
                                        info={"choices": RESIDENT_STATUS})
    listed_on: Mapped[date] = mapped_column(Date, nullable=False)
    assigned_on: Mapped[date | None] = mapped_column(Date)
    assigned_by: Mapped[str | None] = mapped_column(String(64))
    ended_on: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(String(300))

    retiree = relationship("Retiree")
    district = relationship("Region", foreign_keys=[district_id])
    community = relationship("Region", foreign_keys=[community_id])

    def __str__(self) -> str:
        return f"{self.name}（{self.personal_no}）"

    def compute_region_path(self) -> str | None:
        with unscoped():
            node = self.community or self.district
        return node.region_path if node is not None else None

    @property
    def status_label(self) -> str:
        return RESIDENT_STATUS.get(self.status, self.status)

    @property
    def phone_masked(self) -> str:
        """PIPL (issue 12): the retiree's phone as the registry shows it."""
        from core.registry.validators import mask_phone

        return mask_phone(self.phone)
