"""Screens for the Excel template, import (with an error report), and the base ledger."""
from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from sqlalchemy import select

from core.errors import RuleViolation
from core.extensions import db
from core.regions import Region
from core.registry import excel, exchange
from core.views.base import actor_name

REPORTS = "retiree_import_reports"


def _tempfile(suffix: str = ".xlsx") -> str:
    fd, path = tempfile.mkstemp(suffix=suffix)
    os.close(fd)
    return path


def _send_and_remove(path: str, name: str):
    response = send_file(path, as_attachment=True, download_name=name, max_age=0)
    response.call_on_close(lambda: Path(path).unlink(missing_ok=True))
    return response


class RetireeExchangeView(BaseView):
    """A30–A31: the import template, the upload, the error report; A13: the ledger."""

    route_base = "/retiree-exchange"
    default_view = "import_"

    @expose("/template")
    @has_access
    def template(self):
        path = _tempfile()
        excel.write_template(path)
        return _send_and_remove(path, "退休人员信息导入模板.xlsx")

    @expose("/import", methods=["GET", "POST"])
    @has_access
    def import_(self):
        result = None
        report_id = None
        if request.method == "POST":
            upload = request.files.get("file")
            limit = current_app.config.get("IMPORT_MAX_BYTES", 50 * 1024 * 1024)
            if upload is None or not upload.filename:
                flash("请选择要导入的Excel文件（.xlsx）", "danger")
            elif not upload.filename.lower().endswith(".xlsx"):
                flash("只接受 .xlsx 格式的Excel文件", "danger")
            else:
                path = _tempfile()
                try:
                    upload.save(path)
                    if os.path.getsize(path) > limit:
                        raise RuleViolation(f"文件超过 {limit // (1024 * 1024)} MB 上限")
                    result = exchange.import_retirees(db.session, path, actor_name())
                except RuleViolation as exc:
                    db.session.rollback()
                    flash(exc.message, "danger")
                finally:
                    Path(path).unlink(missing_ok=True)
                if result is not None and result.errors:
                    report_id = uuid.uuid4().hex
                    folder = Path(current_app.instance_path) / REPORTS
                    folder.mkdir(parents=True, exist_ok=True)
                    exchange.write_report(folder / f"{report_id}.xlsx", result)
        return self.render_template("ra_import.html", result=result, report_id=report_id)

    @expose("/report/<report_id>")
    @has_access
    def report(self, report_id):
        if not report_id.isalnum():
            abort(404)
        path = Path(current_app.instance_path) / REPORTS / f"{report_id}.xlsx"
        if not path.exists():
            abort(404)
        return send_file(path, as_attachment=True, download_name="导入错误报告.xlsx", max_age=0)

    @expose("/ledger")
    @has_access
    def ledger(self):
        communities = db.session.execute(
            select(Region).where(Region.level == "community").order_by(Region.code)
        ).scalars().all()
        chosen = request.args.get("community", type=int)
        community = next((c for c in communities if c.id == chosen), None) or (
            communities[0] if len(communities) == 1 else None)
        data = exchange.ledger(db.session, community) if community else None
        if community and request.args.get("format") == "xlsx":
            path = _tempfile()
            excel.write_export(path, (exchange.retiree_row(r) for r in data["people"]),
                               extra_columns=exchange.EXPORT_EXTRAS)
            return _send_and_remove(path, f"{community.name}基础台帐.xlsx")
        return self.render_template("ra_ledger.html", communities=communities,
                                    community=community, data=data)

    @expose("/")
    @has_access
    def index(self):
        return redirect(url_for(".import_"))


def register(appbuilder) -> None:
    appbuilder.add_view(RetireeExchangeView, "导入退休人员", category="退休人员",
                        icon="fa-upload", href="/retiree-exchange/import")
    appbuilder.add_link("基础台帐", href="/retiree-exchange/ledger", category="退休人员",
                        icon="fa-book")
