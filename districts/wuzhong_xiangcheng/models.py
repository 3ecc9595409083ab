"""Merger dates and the merger worklist (A44)."""
from __future__ import annotations

from datetime import date, datetime

from flask_appbuilder import Model
from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.scoping import ScopedMixin, unscoped


class MergerDate(ScopedMixin, Model):
    """The date a district's labour and social-insurance work merges with the city's."""

    __tablename__ = "wx_merger_date"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("region.id"), unique=True, nullable=False)
    merger_date: Mapped[date] = mapped_column(Date, nullable=False)
    document_no: Mapped[str | None] = mapped_column(String(100))
    set_by: Mapped[str | None] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now,
                                             onupdate=datetime.now)

    district = relationship("Region")

    def compute_region_path(self) -> str | None:
        return self.district.region_path if self.district is not None else None


class MergerWorkItem(ScopedMixin, Model):
    """One outside resident living in a merged district, to be registered as local."""

    __tablename__ = "wx_merger_work_item"
    __table_args__ = (UniqueConstraint("district_id", "retiree_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("region.id"), nullable=False)
    retiree_id: Mapped[int] = mapped_column(ForeignKey("retiree.id"), nullable=False, index=True)
    # A snapshot: the district sees its list although outside residents belong to the
    # city centre (A19) until they are registered in one of its communities.
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    personal_no: Mapped[str] = mapped_column(String(8), nullable=False)
    residence_address: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)

    district = relationship("Region")
    retiree = relationship("Retiree")

    def compute_region_path(self) -> str | None:
        return self.district.region_path if self.district is not None else None


def merger_date_of(district_id: int) -> date | None:
    with unscoped():
        return db.session.scalar(
            select(MergerDate.merger_date).where(MergerDate.district_id == district_id))
