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
    from core.audit.trail import anchor, verify

    problems = verify(db.session)
    count = db.session.scalar(select(func.count()).select_from(AuditEntry))
    if problems:
        for p in problems:
            click.secho(p, fg="red", err=True)
        fail(f"审计日志校验未通过：发现 {len(problems)} 处问题（共 {count} 条记录）", 1)
    # Issue #12 item 13: what was verified is anchored; later truncation shows.
    cp = anchor(db.session)
    click.echo(f"审计日志完整：{count} 条记录，哈希链校验通过；已写入第 {cp['seq']} 条的检查点。")


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


# The application role may change data but not the audit trail: purge deletes only what
# the triggers allow; the head is updated by every append.
APP_ROLE_GRANTS = [
    "GRANT USAGE ON SCHEMA public TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
    "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
    "REVOKE UPDATE ON audit_entry, audit_checkpoint FROM {role}",
    "REVOKE DELETE ON audit_head, audit_checkpoint FROM {role}",
    "REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
    "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}",
]


@audit_group.command("grant-app-role")
@click.argument("role")
@with_appcontext
def audit_grant_app_role(role):
    """PostgreSQL：授予应用运行角色（非属主）读写数据的权限；该角色不能删除或停用审计触发器。
    须以数据库属主角色（运行迁移的角色）执行，每次迁移后再执行一次。"""
    from sqlalchemy import text

    if db.engine.dialect.name != "postgresql":
        fail("仅 PostgreSQL 需要单独的应用角色；SQLite 只用于开发和演示")
    owner = db.session.scalar(text("SELECT tableowner FROM pg_tables "
                                   "WHERE schemaname = 'public' AND tablename = 'audit_entry'"))
    if owner == role:
        fail(f"角色 {role} 是数据表的属主，能删除审计触发器；应用须使用另一个角色运行")
    quoted = db.engine.dialect.identifier_preparer.quote(role)
    for statement in APP_ROLE_GRANTS:
        db.session.execute(text(statement.format(role=quoted)))
    db.session.commit()
    click.echo(f"已授予角色 {role} 应用运行所需的数据权限（不含删改审计记录、不含DDL）。")


ALL = [audit_group]
