"""``retiree-admin audit verify|purge``."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from core.cli import fail
from core.extensions import db


@click.group("audit")
def audit_group():
    """安全审计日志：verify / purge。"""


@audit_group.command("verify")
@with_appcontext
def audit_verify():
    """校验审计日志的哈希链：发现被改动、删除或插入的记录时以非零状态退出。"""
    from sqlalchemy import func, select

    from core.audit.models import AuditEntry
    from core.audit.trail import verify

    problems = verify(db.session)
    count = db.session.scalar(select(func.count()).select_from(AuditEntry))
    if problems:
        for p in problems:
            click.secho(p, fg="red", err=True)
        fail(f"审计日志校验未通过：发现 {len(problems)} 处问题（共 {count} 条记录）", 1)
    click.echo(f"审计日志完整：{count} 条记录，哈希链校验通过。")


@audit_group.command("purge")
@click.option("--days", type=int, default=None,
              help="保留天数（不少于180，默认 AUDIT_RETENTION_DAYS）")
@with_appcontext
def audit_purge(days):
    """删除超过保留期的审计记录（不会删除保留期内的记录）。"""
    from core.audit.trail import purge

    try:
        removed = purge(db.session, days)
    except ValueError as exc:
        db.session.rollback()
        fail(str(exc))
    click.echo(f"已删除 {removed} 条超过保留期的审计记录。")


ALL = [audit_group]
