"""A33: a request to hand retirees' data to another unit or person."""
from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.scoping import ScopedMixin

STATUS = {"pending": "待审批", "approved": "已批准", "rejected": "已驳回"}
# Fields a release may unmask; everything else leaves masked as in the screens.
UNMASKABLE = {"id_card_no": "身份证号（不脱敏）", "phone": "联系电话（不脱敏）",
              "health": "健康与重病情况"}


class ReleaseRequest(ScopedMixin, Model):
    """Scoped to the region whose retirees would be released: the district centre sees
    and approves requests for its district, the city centre all."""

    __tablename__ = "release_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    requester: Mapped[str] = mapped_column(String(128), nullable=False)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), nullable=False, index=True)
    purpose: Mapped[str] = mapped_column(String(500), nullable=False)
    recipient: Mapped[str] = mapped_column(String(200), nullable=False)
    fields: Mapped[str] = mapped_column(Text, nullable=False, default="")
    row_cap: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending",
                                        info={"choices": STATUS})
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decision_note: Mapped[str | None] = mapped_column(String(500))
    valid_until: Mapped[datetime | None] = mapped_column(DateTime)

    region = relationship("Region")

    def __str__(self) -> str:
        return self.number

    def compute_region_path(self) -> str | None:
        return self.region.region_path if self.region is not None else None

    @property
    def status_label(self) -> str:
        return STATUS.get(self.status, self.status)

    @property
    def field_set(self) -> set[str]:
        return {f for f in (self.fields or "").split(",") if f}

    @property
    def fields_label(self) -> str:
        chosen = [UNMASKABLE[f] for f in sorted(self.field_set) if f in UNMASKABLE]
        return "、".join(chosen) or "脱敏数据"
