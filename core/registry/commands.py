"""``retiree-admin template|import|export retirees``: the registry's Excel exchange."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from core.cli import fail
from core.errors import RuleViolation
from core.extensions import db
from core.registry import excel, exchange
from core.registry.import_workers import WorkerFailed
from core.registry.models import Retiree

KINDS = click.Choice(["retirees"])


@click.command("template")
@click.argument("kind", type=KINDS)
@click.argument("out", type=click.Path(dir_okay=False, writable=True))
def template_command(kind, out):
    """写出导入模板（中文表头、填表说明、下拉选项）。"""
    excel.write_template(out)
    click.echo(f"已写出导入模板：{out}")


@click.command("import")
@click.argument("kind", type=KINDS)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--report", type=click.Path(dir_okay=False, writable=True),
              help="错误报告（xlsx）写到这里")
@click.option("--workers", type=click.IntRange(1, 16), default=None,
              help="校验、写入的进程数（默认 IMPORT_WORKERS；SQLite 上默认 1）")
@click.option("--overwrite", is_flag=True,
              help="导出后已被他人修改的人员也按文件覆盖（默认拒绝这些行）")
@with_appcontext
def import_command(kind, file, report, workers, overwrite):
    """导入Excel：逐行校验，合格行入库，不合格行写入错误报告；按个人编号更新，不重复登记。"""
    try:  # issue #13 item 10: the safety checks first; the bar's length from the checked reader
        rows = excel.read_rows(file, **exchange.import_limits())
    except RuleViolation as exc:
        fail(exc.message)
    for k, v in rows.notes().items():
        click.echo(f"{k}：{v}")
    with click.progressbar(length=max(rows.size_hint or 1, 1), label="导入中") as bar:
        last = [0]

        def progress(n):
            bar.update(n - last[0])
            last[0] = n
        try:
            result = exchange.import_retirees(db.session, rows, "cli", progress=progress,
                                              workers=workers, overwrite=overwrite)
        except RuleViolation as exc:
            db.session.rollback()
            fail(exc.message)
        except WorkerFailed as exc:
            fail(exc.message)
    click.echo("；".join(f"{k} {v}" for k, v in result.summary().items()))
    if report:
        exchange.write_report(report, result)
        click.echo(f"错误报告：{report}")
    if result.failed:
        raise SystemExit(1)


@click.command("export")
@click.argument("kind", type=KINDS)
@click.argument("out", type=click.Path(dir_okay=False, writable=True))
@click.option("--release", "release_no", default=None,
              help="已批准的数据提供申请编号（超过 RELEASE_FREE_ROWS 条或不脱敏时必填）")
@with_appcontext
def export_command(kind, out, release_no):
    """导出退休人员到Excel（身份证号、电话脱敏；可再导入）。"""
    from core.release.service import open_export, record_release, watermark

    query = db.session.query(Retiree).order_by(Retiree.id)
    try:
        query, req, options = open_export(db.session, query, Retiree.region_path, release_no,
                                          "Retiree")
    except RuleViolation as exc:
        fail(exc.message)
    count = exchange.export_retirees(query, out, watermark=req and watermark(req, "cli"),
                                     **options)
    record_release(req, count, "Retiree")
    click.echo(f"已导出 {count} 人：{Path(out)}")


ALL = [template_command, import_command, export_command]
