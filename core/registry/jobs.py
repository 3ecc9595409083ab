"""Registry imports and exports as background jobs (A31; issue 7)."""
from __future__ import annotations

from pathlib import Path

from flask import current_app

from core.audit.trail import record
from core.errors import RuleViolation
from core.extensions import db
from core.jobs import handler
from core.registry import exchange
from core.registry.models import Retiree


def job_folder(kind: str) -> Path:
    folder = Path(current_app.instance_path) / "jobs" / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@handler("import_retirees")
def import_job(job, params: dict, progress) -> dict:
    """Import an uploaded file; a re-run after a killed worker adds nobody twice (rows
    are matched on the personal number). The upload is removed when the job ends, done
    or failed (issue 13 item 12); only a killed job's stays, for its resumption, until
    the retention purge (core.job_purge)."""
    source = Path(params["path"])
    if not source.exists():
        raise RuleViolation("上传的文件已不存在（已超过保留期限被删除），请重新上传")
    try:
        return _import(job, params, source, progress)
    finally:
        source.unlink(missing_ok=True)


#: Failed rows listed on the result page; the error report lists all of them.
FAILURES_SHOWN = 50


def _import(job, params: dict, source: Path, progress) -> dict:
    """Issue #14 item 15: the result names the file, then the sheet read, the columns
    ignored and the counts (总行数, 新增, 更新, 无变化, 失败), and lists the first
    ``FAILURES_SHOWN`` failed rows with their reasons (``failures``, not audited)."""
    result = exchange.import_retirees(db.session, str(source), job.created_by, progress=progress,
                                      overwrite=bool(params.get("overwrite")))
    out = {**({"文件": params["filename"]} if params.get("filename") else {}),
           **({"覆盖他人修改": "是"} if params.get("overwrite") else {}), **result.overview()}
    record("import", "success" if not result.failed else "failure", "Retiree",
           detail={"job": job.id, **out}, actor=job.created_by)
    if result.errors:
        report = job_folder("reports") / f"{job.id}.xlsx"
        exchange.write_report(report, result)
        out["report"] = report.name
        out["failures"] = [[row_no, shown.get("name") or "", "；".join(map(str, reasons))]
                           for row_no, shown, reasons in result.errors[:FAILURES_SHOWN]]
    return out


@handler("export_retirees")
def export_job(job, params: dict, progress) -> dict:
    """Export the retirees the submitting user may see (the job runs in their scope)."""
    target = job_folder("exports") / f"{job.id}.xlsx"
    query = db.session.query(Retiree).order_by(Retiree.id)
    count = exchange.export_retirees(query, target, watermark=params.get("watermark"))
    progress(count, count)
    return {"rows": count, "file": target.name}
