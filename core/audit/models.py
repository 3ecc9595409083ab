"""Audit entries and the head of their chain. Nothing in the application updates or
deletes an entry (``listeners`` refuses it); only ``retiree-admin audit purge`` removes
entries older than the retention period, and the head records where the chain restarts."""
from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

GENESIS = "0" * 64


class AuditEntry(Model):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False, unique=True)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)
    actor: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40), nullable=False, index=True)
    object_type: Mapped[str | None] = mapped_column(String(64), index=True)
    object_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    detail: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)

    ACTIONS = {
        "login": "登录", "logout": "退出", "lockout": "账户锁定", "unlock": "解除锁定",
        "denied": "拒绝访问",
        # PIPL: each way of seeing a person says what was seen (issue #12 item 5).
        "person.open": "查看人员详情", "person.edit": "打开修改表单",
        "person.print": "打印登记表（脱敏）", "person.print_full": "打印完整登记表",
        "person.card": "打印联系卡", "unmask": "查看完整证件号/电话",
        "person.correct": "更正证件号/电话",
        "create": "新增", "update": "修改", "delete": "删除", "remove": "注销",
        "import": "导入", "export": "导出", "release": "数据提供", "password": "修改密码",
        "totp": "双因素认证", "audit.purge": "清理审计记录", "audit.export": "导出审计记录",
    }
    OUTCOMES = {"success": "成功", "failure": "失败", "denied": "拒绝"}

    @property
    def action_label(self) -> str:
        return self.ACTIONS.get(self.action, self.action)

    @property
    def outcome_label(self) -> str:
        return self.OUTCOMES.get(self.outcome, self.outcome)


class AuditHead(Model):
    """One row: the last sequence number and hash, and where the kept chain starts."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), nullable=False, default=GENESIS)
    # After a purge: the first kept sequence number and the hash it chains to.
    base_seq: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    base_hash: Mapped[str] = mapped_column(String(64), nullable=False, default=GENESIS)


class AuditCheckpoint(Model):
    """A signed copy of the head, written by ``audit verify`` on an intact chain and by
    every purge; append-only like the entries (issue #12, item 13). ``verify`` refuses a
    head behind a checkpoint (truncated end) or a base no checkpoint vouches for (entries
    removed at the start outside a purge)."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    last_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    base_seq: Mapped[int] = mapped_column(Integer, nullable=False)
    base_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    signature: Mapped[str] = mapped_column(String(64), nullable=False)
