"""The city agreement (A12): an enterprise and the city service centre."""
from __future__ import annotations

from datetime import date, datetime

from flask import current_app
from flask_appbuilder import Model
from sqlalchemy import Date, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.regions import Region
from core.registry.models import Enterprise
from core.scoping import ScopedMixin, unscoped

# A8: the city SI centre carries the name of the city service centre.
CITY_CENTRE = "苏州市企业退休人员社会化管理服务中心"
STATUS = {"draft": "待签订", "signed": "已签订", "terminated": "已终止"}


class CityAgreement(ScopedMixin, Model):
    """A12: the 企业退休人员社会化管理协议书 an enterprise signs with the city service centre
    before its retirees enter socialized management. Party A is the enterprise (with its
    unit number), party B the city centre. Seen by the city and by the district where
    the enterprise is registered; never deleted: an agreement ends by termination."""

    __tablename__ = "city_agreement"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_no: Mapped[str] = mapped_column(String(50), unique=True, nullable=False)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), nullable=False,
                                               index=True)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="draft",
                                        info={"choices": STATUS})
    signed_on: Mapped[date | None] = mapped_column(Date)
    party_a_representative: Mapped[str | None] = mapped_column(String(50))
    party_a_phone: Mapped[str | None] = mapped_column(String(30))
    party_b_name: Mapped[str] = mapped_column(String(100), nullable=False, default=CITY_CENTRE)
    party_b_representative: Mapped[str | None] = mapped_column(String(50))
    party_b_phone: Mapped[str | None] = mapped_column(String(30))
    terminated_on: Mapped[date | None] = mapped_column(Date)
    termination_reason: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now,
                                                 onupdate=datetime.now)

    enterprise: Mapped[Enterprise] = relationship()

    def __str__(self) -> str:
        return self.document_no

    @property
    def status_label(self) -> str:
        return STATUS.get(self.status, self.status)

    @property
    def unit_no(self) -> str:
        return self.enterprise.unit_no if self.enterprise else ""

    def compute_region_path(self) -> str | None:
        """The district where the enterprise is registered, or the city when none is
        recorded (the city centre is party B either way)."""
        if self.enterprise is None:
            return None
        district = enterprise_district(self.enterprise)
        if district is not None:
            return district.region_path
        return f"/{current_app.config['CITY']['code']}/"

    def in_force_on(self, on: date) -> bool:
        """Signed on or before ``on`` and not terminated by then."""
        return (self.status in ("signed", "terminated") and self.signed_on is not None
                and self.signed_on <= on
                and (self.terminated_on is None or on < self.terminated_on))


def enterprise_district(enterprise: Enterprise) -> Region | None:
    """The district where ``enterprise`` is registered, read past the user's scope: a
    community clerk accepting an archive must still learn where the employer is."""
    with unscoped():
        if enterprise.district_id is not None:
            return db.session.get(Region, enterprise.district_id)
        return enterprise.district
