"""``/dashboard/``: the charts page, its JSON, its xlsx and PDF exports.

Permissions are ``can_dashboard`` (the page), ``can_chart`` (the JSON) and
``can_chart_download`` (the files), all within the supervisor role's read-only set.
"""
from __future__ import annotations

import json

from flask import abort, g, jsonify, request
from flask_appbuilder import BaseView, expose, has_access

from core.dashboard import board as boards
from core.dashboard.export import XLSX_MIME, summary_pdf, workbook
from core.downloads import download_response, today_stamp
from core.extensions import db


class DashboardView(BaseView):
    route_base = "/dashboard"
    default_view = "index"
    class_permission_name = "Dashboard"
    method_permission_name = {"index": "dashboard", "data": "chart",
                              "xlsx": "chart_download", "pdf": "chart_download"}

    def _board(self, only: str | None = None) -> boards.Board:
        board = boards.resolve(db.session, request.args)
        return boards.compute(db.session, board, only=only)

    @expose("/")
    @has_access
    def index(self):
        board = self._board()
        payload = json.dumps(board.as_json(), ensure_ascii=False).replace("</", "<\\/")
        return self.render_template(
            "ra_dashboard.html", board=board, payload=payload,
            choices=boards.region_choices(db.session, board.home),
            args=board.query_args())

    @expose("/data")
    @has_access
    def data(self):
        return jsonify(self._board().as_json())

    @expose("/xlsx")
    @has_access
    def xlsx(self):
        only = request.args.get("chart") or None
        board = self._board(only=only)
        if only is not None and not board.charts:
            abort(404)
        day = today_stamp()
        title = board.charts[0]["title"] if only is not None else "统计图表"
        return download_response(workbook(board, only), f"{title}-{day}.xlsx",
                                 f"dashboard-{only or 'all'}-{day}.xlsx", XLSX_MIME)

    @expose("/pdf")
    @has_access
    def pdf(self):
        board = self._board()
        user = g.get("ra_user")
        author = (f"{user.first_name or ''}{user.last_name or ''}".strip() or user.username
                  ) if user is not None else ""
        day = today_stamp()
        return download_response(summary_pdf(board, author), f"统计图表-{day}.pdf",
                                 f"dashboard-{day}.pdf", "application/pdf", inline=True)


def register(appbuilder) -> None:
    appbuilder.add_view(DashboardView, "统计图表", icon="fa-bar-chart")
