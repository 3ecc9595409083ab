"""Job progress on screen: a page that polls the job's JSON status; an interrupted
job (its worker gone, issue 12 item 12) offers a button to resume it."""
from __future__ import annotations

import json
from pathlib import Path

from flask import abort, current_app, flash, g, redirect, url_for
from flask_appbuilder import BaseView, expose, has_access

from core.downloads import send_download, today_stamp
from core.extensions import db
from core.jobs import Job, resume
from core.registry.jobs import job_folder
from core.scoping import unscoped


def _own_job(job_id: int) -> Job:
    """Jobs are visible to the user who submitted them."""
    with unscoped():
        job = db.session.get(Job, job_id)
    user = g.get("ra_user")
    if job is None or user is None or job.created_by != user.username:
        abort(404)
    return job


class JobView(BaseView):
    route_base = "/jobs"
    default_view = "show"

    @expose("/<int:job_id>")
    @has_access
    def show(self, job_id):
        return self.render_template("ra_job.html", job=_own_job(job_id))

    @expose("/<int:job_id>/status")
    @has_access
    def status(self, job_id):
        # Not jsonify: it sorts the keys, and a result's are in the order to show them
        # (an import's counts: 总行数, 新增, 更新, 无变化, 失败; issue #14 item 15).
        response = current_app.response_class(
            json.dumps(_own_job(job_id).as_dict(), ensure_ascii=False),
            mimetype="application/json")
        response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/<int:job_id>/resume", methods=["POST"])
    @has_access
    def resume(self, job_id):
        """继续: run an interrupted import again from its uploaded file; the rows the
        killed run committed are matched on the personal number and not added twice."""
        job = _own_job(job_id)
        source = job.param_data.get("path")
        if not job.interrupted:
            flash("该任务未中断，无需继续", "warning")
        elif source and not Path(source).exists():
            flash("上传的文件已按保留期限删除，无法继续，请重新上传导入", "danger")
        elif resume(job.id):
            flash("任务已重新开始，已导入的人员不会重复登记", "success")
        else:
            flash("该任务已被重新开始", "warning")
        return redirect(url_for(".show", job_id=job_id))

    @expose("/<int:job_id>/download")
    @has_access
    def download(self, job_id):
        job = _own_job(job_id)
        result = job.result_data
        if job.status != "done":
            abort(404)
        if "file" in result:
            path, name, fallback = (job_folder("exports") / result["file"], "退休人员导出",
                                    "retirees")
        elif "report" in result:
            path, name, fallback = (job_folder("reports") / result["report"], "导入错误报告",
                                    "import-errors")
        else:
            abort(404)
        day = f"{job.finished_at:%Y-%m-%d}" if job.finished_at else today_stamp()
        return send_download(path, f"{name}-{day}.xlsx", f"{fallback}-{day}.xlsx")


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(JobView)
