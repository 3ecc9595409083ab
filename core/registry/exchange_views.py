"""Screens for the Excel template, import (with an error report), and the base ledger."""
from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from sqlalchemy import select

from core.downloads import send_download, today_stamp
from core.errors import RuleViolation
from core.extensions import db
from core.jobs import Job, submit
from core.regions import Region
from core.registry import excel, exchange
from core.registry.jobs import job_folder
from core.release.service import health_visible
from core.scoping import unscoped
from core.views.base import actor_name

REPORTS = "retiree_import_reports"


def _tempfile(suffix: str = ".xlsx") -> str:
    fd, path = tempfile.mkstemp(suffix=suffix)
    os.close(fd)
    return path


def _send_and_remove(path: str, name: str, fallback: str):
    from core.release.files import send_temporary

    return send_temporary(path, name, fallback)


PAST_IMPORTS = 20


def _past_imports() -> list:
    """The current user's latest imports, newest first, with their counts."""
    user = g.get("ra_user")
    if user is None:
        return []
    with unscoped():
        return db.session.scalars(
            select(Job).where(Job.kind == "import_retirees", Job.created_by == user.username)
            .order_by(Job.id.desc()).limit(PAST_IMPORTS)).all()


class RetireeExchangeView(BaseView):
    """A30–A31: the import template, the upload, the error report; A13: the ledger."""

    route_base = "/retiree-exchange"
    default_view = "import_"

    @expose("/template")
    @has_access
    def template(self):
        path = _tempfile()
        excel.write_template(path, exchange.template_references(db.session))
        return _send_and_remove(path, "退休人员信息导入模板.xlsx", "retiree-import-template.xlsx")

    @expose("/import", methods=["GET", "POST"])
    @has_access
    def import_(self):
        """A31: the upload becomes a background job; its page shows progress and result.
        The file is checked (size, zip bomb, sheet and header) before the job starts, with
        the same limits as the CLI (issue #13 item 11). 覆盖导出后他人所做的修改 is the
        CLI's ``--overwrite``; the screen lists the user's past imports (issue #14 item 15)."""
        if request.method == "POST":
            upload = request.files.get("file")
            overwrite = request.form.get("overwrite") == "y"
            if upload is None or not upload.filename:
                flash("请选择要导入的Excel文件（.xlsx）", "danger")
            elif not upload.filename.lower().endswith(".xlsx"):
                flash("只接受 .xlsx 格式的Excel文件", "danger")
            else:
                path = job_folder("uploads") / f"{uuid.uuid4().hex}.xlsx"
                upload.save(path)
                try:
                    excel.read_rows(str(path), **exchange.import_limits()).close()
                except RuleViolation as exc:
                    path.unlink(missing_ok=True)
                    flash(exc.message, "danger")
                else:
                    job = submit("import_retirees",
                                 {"path": str(path), "filename": upload.filename[-200:],
                                  "overwrite": overwrite},
                                 actor_name(), g.get("region_scope"))
                    return redirect(url_for("JobView.show", job_id=job.id))
        return self.render_template("ra_import.html", past=_past_imports(),
                                    limit_mb=exchange.import_limits()["max_bytes"] // 2**20)

    @expose("/report/<report_id>")
    @has_access
    def report(self, report_id):
        if not report_id.isalnum():
            abort(404)
        path = Path(current_app.instance_path) / REPORTS / f"{report_id}.xlsx"
        if not path.exists():
            abort(404)
        return send_download(path, "导入错误报告.xlsx", "import-errors.xlsx")

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
        # Issue 12: illness per person and its counts only for the health permission.
        health = health_visible()
        if community and request.args.get("format") == "xlsx":
            from core.release.service import authorize_export, record_release

            try:  # A33: masked, and no more rows than an export without a release request
                authorize_export(None, len(data["people"]), set())
            except RuleViolation as exc:
                flash(exc.message, "danger")
                return redirect(url_for(".ledger", community=community.id))
            path = _tempfile()
            excel.write_export(path, (exchange.retiree_row(r, health=health)
                                      for r in data["people"]),
                               extra_columns=exchange.EXPORT_EXTRAS,
                               withheld=() if health else exchange.HEALTH_FIELDS)
            record_release(None, len(data["people"]), "Retiree")
            return _send_and_remove(path, f"{community.name}基础台帐-{today_stamp()}.xlsx",
                                    f"ledger-{community.code}-{today_stamp()}.xlsx")
        return self.render_template("ra_ledger.html", communities=communities,
                                    community=community, data=data, health=health)

    @expose("/")
    @has_access
    def index(self):
        return redirect(url_for(".import_"))


def register(appbuilder) -> None:
    appbuilder.add_view(RetireeExchangeView, "导入退休人员", category="退休人员",
                        icon="fa-upload", href="/retiree-exchange/import")
    appbuilder.add_link("基础台帐", href="/retiree-exchange/ledger", category="退休人员",
                        icon="fa-book")
