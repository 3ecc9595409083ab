"""The region tree: city → district → street → community (A6), with division codes.

Codes follow GB/T 2260 and the national statistical division codes: a district has 6
digits, a street 9, a community 12, each beginning with its parent's code (a district
begins with the first four digits of its city). A region's ``region_path`` is the chain
of codes from the root ("/320500/320502/320502001/"), which is also the scoping prefix of
every user and row attached to it.
"""
from __future__ import annotations

import re

from flask_appbuilder import Model
from sqlalchemy import ForeignKey, Integer, String, or_, select
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from core.errors import RuleViolation
from core.scoping import SCOPE_PATTERN, ScopedMixin, ancestor_of_scope

LEVELS = ("city", "district", "street", "community")
LEVEL_LABELS = {"city": "市", "district": "区", "street": "街道（乡镇）", "community": "社区（村）"}
CODE_LENGTH = {"city": 6, "district": 6, "street": 9, "community": 12}


class Region(ScopedMixin, Model):
    """A node of the management tree (A6): city and district centres, street offices,
    community stations. Codes and parents never change once created (paths derive
    from them); names may."""

    __tablename__ = "region"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    level: Mapped[str] = mapped_column(String(10), nullable=False, index=True,
                                       info={"choices": LEVEL_LABELS})
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(30))

    parent: Mapped[Region | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Region]] = relationship(back_populates="parent", order_by="Region.code")

    def __str__(self) -> str:
        return self.name

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS.get(self.level, self.level)

    @property
    def full_name(self) -> str:
        names, node = [], self
        while node is not None and node.level != "city":
            names.append(node.name)
            node = node.parent
        return "".join(reversed(names)) or self.name

    @validates("code")
    def _code(self, key, value):
        value = (value or "").strip()
        if not re.fullmatch(r"\d{6}|\d{9}|\d{12}", value):
            raise RuleViolation("区域代码须为6位（市、区）、9位（街道）或12位（社区）数字", "code")
        return value

    def compute_region_path(self) -> str:
        parent_path = self.parent.region_path if self.parent is not None else "/"
        return f"{parent_path}{self.code}/"

    @classmethod
    def scope_criterion(cls):
        # A user sees the subtree of their region and the names of its ancestors.
        return or_(cls.region_path.like(SCOPE_PATTERN), ancestor_of_scope(cls.region_path))

    def check_hierarchy(self) -> None:
        """A6: each level hangs under the level above, its code under its parent's."""
        if self.level not in LEVELS:
            raise RuleViolation("区域级别须为市、区、街道或社区", "level")
        if len(self.code) != CODE_LENGTH[self.level]:
            raise RuleViolation(
                f"{LEVEL_LABELS[self.level]}级区域代码须为{CODE_LENGTH[self.level]}位", "code")
        if self.level == "city":
            if self.parent is not None:
                raise RuleViolation("市级区域不能有上级区域", "parent")
            return
        if self.parent is None:
            raise RuleViolation(f"{LEVEL_LABELS[self.level]}级区域须有上级区域", "parent")
        expected_parent = LEVELS[LEVELS.index(self.level) - 1]
        if self.parent.level != expected_parent:
            raise RuleViolation(
                f"{LEVEL_LABELS[self.level]}的上级须为{LEVEL_LABELS[expected_parent]}级区域",
                "parent")
        prefix = self.parent.code[:4] if self.parent.level == "city" else self.parent.code
        if not self.code.startswith(prefix):
            raise RuleViolation(f"区域代码须以上级区域代码{prefix}开头", "code")


def district_of(region: Region | None) -> Region | None:
    node = region
    while node is not None and node.level not in ("district", "city"):
        node = node.parent
    return node if node is not None and node.level == "district" else None


def region_by_code(session, code: str) -> Region | None:
    return session.scalar(select(Region).where(Region.code == code))


def root_region(session) -> Region | None:
    return session.scalar(select(Region).where(Region.parent_id.is_(None)).order_by(Region.id))
