"""The dashboard as files: each chart's numbers as xlsx (with a native Excel chart), and a
A4 summary PDF for meetings (one page unless the charts' groups need more), its bars drawn with fpdf2's primitives in the
embedded Chinese font of the printed forms. Every row of the xlsx goes through
``core.xlsx.safe_row``: category and series names are region and enterprise names, typed
by users (issue #12 item 19)."""
from __future__ import annotations

import io
import re
from datetime import datetime

from fpdf import FPDF
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, PieChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from core.dashboard.board import Board
from core.registry.printing import resolve_font_path
from core.xlsx import safe_row

TITLE = "企业退休人员统计摘要"
PALETTE = ("#5470c6", "#91cc75", "#fac858", "#ee6666", "#73c0de", "#3ba272", "#fc8452",
           "#9a60b4", "#ea7ccc")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def series_color(series: dict, i: int) -> str:
    return series.get("color") or PALETTE[i % len(PALETTE)]


# --- xlsx ----------------------------------------------------------------------------

_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_HEAD = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="DCE6F1")


def _sheet_title(title: str, taken: set[str]) -> str:
    base = _BAD_SHEET_CHARS.sub("", title)[:28] or "图表"
    name, n = base, 2
    while name in taken:
        name, n = f"{base[:26]}{n}", n + 1
    taken.add(name)
    return name


def _chart_sheet(ws, chart: dict, described: str) -> None:
    ws.append(safe_row([chart["title"]]))
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(safe_row([described]))
    ws.append(safe_row([chart.get("note") or chart.get("description") or ""]))
    if chart.get("error"):
        ws.append(safe_row([f"无法计算：{chart['error']}"]))
        return
    series = chart["series"]
    header = ["分类", *(s.get("name", "") for s in series)]
    ws.append(safe_row(header))
    head_row = ws.max_row
    for cell in ws[head_row]:
        cell.font, cell.fill = _HEAD, _HEAD_FILL
    for i, category in enumerate(chart["categories"]):
        ws.append(safe_row([category, *(s["data"][i] for s in series)]))
    last = ws.max_row
    if len(chart["categories"]) > 1 or series:
        ws.append(safe_row(["合计", *(sum(v or 0 for v in s["data"]) for s in series)]))
        for cell in ws[ws.max_row]:
            cell.font = _HEAD
    ws.column_dimensions["A"].width = max(12, min(40, 2 + 2 * max(
        (len(str(c)) for c in chart["categories"]), default=4)))
    for j in range(len(series)):
        ws.column_dimensions[get_column_letter(j + 2)].width = 12
    if last > head_row and series:
        _native_chart(ws, chart, head_row, last, len(series))


def _native_chart(ws, chart: dict, head_row: int, last: int, n_series: int) -> None:
    kind = chart["kind"]
    data = Reference(ws, min_col=2, max_col=1 + n_series, min_row=head_row, max_row=last)
    cats = Reference(ws, min_col=1, min_row=head_row + 1, max_row=last)
    if kind == "pie":
        excel = PieChart()
    elif kind == "line":
        excel = LineChart()
    else:
        excel = BarChart()
        excel.type = "bar" if kind in ("hbar", "stack", "pyramid") else "col"
        if kind == "stack":
            excel.grouping, excel.overlap = "stacked", 100
    excel.title = chart["title"]
    excel.add_data(data, titles_from_data=True)
    excel.set_categories(cats)
    excel.height, excel.width = 9, 16
    ws.add_chart(excel, f"{get_column_letter(n_series + 3)}4")


def workbook(board: Board, only: str | None = None) -> bytes:
    """An xlsx of one chart (``only``), or of the cards and every chart."""
    wb = Workbook()
    described = board.describe()
    taken: set[str] = set()
    charts = [c for c in board.charts if only is None or c["key"] == only]
    first = wb.active
    if only is None:
        first.title = _sheet_title("概况", taken)
        first.append(safe_row([TITLE]))
        first["A1"].font = Font(bold=True, size=14)
        first.append(safe_row([described]))
        first.append(safe_row([f"生成时间：{datetime.now():%Y-%m-%d %H:%M}"]))
        first.append(safe_row(["指标", "人数", "说明"]))
        for cell in first[first.max_row]:
            cell.font, cell.fill = _HEAD, _HEAD_FILL
        for card in board.cards:
            first.append(safe_row([card["title"], card["value"], card.get("hint", "")]))
        first.column_dimensions["A"].width = 18
        first.column_dimensions["C"].width = 30
        for chart in charts:
            _chart_sheet(wb.create_sheet(_sheet_title(chart["title"], taken)), chart, described)
    else:
        for chart in charts:
            first.title = _sheet_title(chart["title"], taken)
            _chart_sheet(first, chart, described)
    for ws in wb.worksheets:
        ws["A2"].alignment = Alignment(wrap_text=False)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- PDF -----------------------------------------------------------------------------

_FAMILY = "cjk"
PAGE_W, PAGE_H, MARGIN = 210.0, 297.0, 10.0
GAP = 5.0
MAX_COLUMNS = 24  # a longer time series is drawn as rows of bars, every month shown
ROW_H = 3.4  # the least height of a group's row of bars
LEGEND_H = 4.5
FOOTER = 6.0
MIN_CELL = 40.0


def _rows(chart: dict) -> list[tuple[str, list]]:
    """Every group of the chart: (category, its numbers in each series)."""
    series = chart.get("series") or []
    return [(c, [s["data"][i] or 0 for s in series])
            for i, c in enumerate(chart.get("categories") or [])]


def _needed(chart: dict, n_rows: int) -> float:
    """The height a chart's box needs to draw ``n_rows`` groups as rows of bars."""
    if chart.get("error") or not chart.get("series"):
        return 17.0
    if chart["kind"] == "line" and len(chart["categories"]) <= MAX_COLUMNS:
        return 0.0 if n_rows == 0 else 30.0
    legend = LEGEND_H if len(chart["series"]) > 1 else 0.0
    return 12.0 + legend + n_rows * ROW_H


def _rgb(hex_color: str) -> tuple[int, int, int]:
    h = hex_color.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


class _Summary:
    def __init__(self) -> None:
        path, _, index = resolve_font_path().partition("#")
        pdf = FPDF(unit="mm", format="A4")
        pdf.set_auto_page_break(False)
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.add_font(_FAMILY, "", path, collection_font_number=int(index or 0))
        pdf.set_font(_FAMILY, size=10)
        pdf.set_creator("retiree-admin")
        pdf.set_title(TITLE)
        pdf.add_page()
        self.pdf = pdf

    def text(self, x: float, y: float, w: float, h: float, text: str, pt: float,
             align: str = "L", color=(0, 0, 0)) -> None:
        pdf = self.pdf
        pdf.set_font_size(pt)
        pdf.set_text_color(*color)
        pdf.set_xy(x, y)
        pdf.cell(w, h, self.fit(text, w, pt), align=align)

    def fit(self, text: str, w: float, pt: float) -> str:
        self.pdf.set_font_size(pt)
        if self.pdf.get_string_width(text) <= w:
            return text
        while text and self.pdf.get_string_width(text + "…") > w:
            text = text[:-1]
        return text + "…"

    def box(self, x, y, w, h, fill=None, draw=(200, 200, 200)) -> None:
        pdf = self.pdf
        pdf.set_draw_color(*draw)
        if fill:
            pdf.set_fill_color(*fill)
        pdf.rect(x, y, w, h, style="DF" if fill else "D")

    def bar(self, x, y, w, h, color: str) -> None:
        if w <= 0:
            return
        self.pdf.set_fill_color(*_rgb(color))
        self.pdf.rect(x, y, w, h, style="F")

    # --- parts ---------------------------------------------------------------------
    def header(self, board: Board, author: str) -> float:
        y = MARGIN
        self.text(MARGIN, y, PAGE_W - 2 * MARGIN, 9, TITLE, 17, "C")
        y += 10
        self.text(MARGIN, y, PAGE_W - 2 * MARGIN, 5, board.describe(), 9, "C", (60, 60, 60))
        y += 5
        self.text(MARGIN, y, PAGE_W - 2 * MARGIN, 5,
                  f"制表：{author}　生成时间：{datetime.now():%Y-%m-%d %H:%M}", 8, "C",
                  (110, 110, 110))
        return y + 8

    def cards(self, cards: list[dict], y: float) -> float:
        if not cards:
            return y
        w = (PAGE_W - 2 * MARGIN - GAP * (len(cards) - 1)) / len(cards)
        for i, card in enumerate(cards):
            x = MARGIN + i * (w + GAP)
            self.box(x, y, w, 17, fill=(245, 248, 252))
            self.text(x + 2, y + 1.5, w - 4, 5, card["title"], 8.5, "C", (80, 80, 80))
            self.text(x + 2, y + 7, w - 4, 8, f"{card['value']:,}", 15, "C", (33, 66, 140))
        return y + 17 + GAP

    def chart(self, chart: dict, x: float, y: float, w: float, h: float,
              rows: list | None = None, continued: bool = False) -> None:
        """One chart in the box (x, y, w, h): all of ``rows`` (default: every group of the
        chart), each drawn; ``continued`` marks the part of a chart carried onto a new page."""
        self.box(x, y, w, h)
        self.text(x + 2, y + 1.2, w - 4, 5, chart["title"] + ("（续）" if continued else ""), 9.5)
        note = chart.get("note") or ""
        if chart.get("plugin"):
            note = f"插件：{chart['plugin']}　{note}"
        self.text(x + 2, y + 6, w - 4, 3.6, note, 6.5, color=(110, 110, 110))
        top = y + 10.5
        if chart.get("error"):
            self.text(x + 2, top, w - 4, 5, f"无法计算：{chart['error']}", 8, color=(200, 0, 0))
            return
        series = chart["series"]
        rows = _rows(chart) if rows is None else rows
        if not rows or not series:
            self.text(x + 2, top, w - 4, 5, "无数据", 8, color=(110, 110, 110))
            return
        if len(series) > 1:
            lx = x + 2
            for i, s in enumerate(series):
                self.bar(lx, top + 0.8, 2.5, 2.5, series_color(s, i))
                self.text(lx + 3.2, top, 30, 4, s.get("name", ""), 6.5)
                self.pdf.set_font_size(6.5)
                lx += 6 + self.pdf.get_string_width(s.get("name", ""))
            top += LEGEND_H
        bottom = y + h - 1.5
        if chart["kind"] == "line" and len(_rows(chart)) <= MAX_COLUMNS:
            self._columns(rows, series, x, top, w, bottom - top)
            return
        row_h = min(5.0, (bottom - top) / len(rows))
        if chart["kind"] == "pyramid" and len(series) == 2:
            self._pyramid(rows, series, x, top, w, row_h)
        else:
            self._bars(rows, series, x, top, w, row_h)

    def _bars(self, rows, series, x, top, w, row_h) -> None:
        label_w, value_w = 24.0, 10.0
        peak = max((v for _, values in rows for v in values), default=0) or 1
        span = w - label_w - value_w - 6
        n = len(series)
        for r, (label, values) in enumerate(rows):
            ry = top + r * row_h
            self.text(x + 2, ry, label_w, row_h, label, 6.5)
            bh = max(0.8, (row_h * 0.72) / n)
            for j, v in enumerate(values):
                by = ry + row_h * 0.14 + j * bh
                self.bar(x + 3 + label_w, by, span * v / peak, bh * 0.92,
                         series_color(series[j], j))
            total = " / ".join(f"{v:,}" for v in values)
            self.text(x + 3 + label_w + span * max(values) / peak + 0.8, ry, value_w + 8, row_h,
                      total, 6)

    def _columns(self, rows, series, x, top, w, height) -> None:
        """A time series as grouped columns, oldest on the left."""
        label_h, value_h = 3.5, 2.8
        peak = max((v for _, values in rows for v in values), default=0) or 1
        slot = (w - 6) / len(rows)
        n = len(series)
        base = top + height - label_h
        span = height - label_h - value_h
        self.pdf.set_draw_color(180, 180, 180)
        self.pdf.line(x + 3, base, x + w - 3, base)
        for r, (_, values) in enumerate(rows):
            sx = x + 3 + r * slot
            bw = slot * 0.8 / n
            for j, v in enumerate(values):
                bh = span * v / peak
                bx = sx + slot * 0.1 + j * bw
                self.bar(bx, base - bh, bw * 0.9, bh, series_color(series[j], j))
                if v:
                    self.text(bx - 1, base - bh - value_h, bw + 2, value_h, f"{v:,}", 4.8, "C")
        shorts = [label[2:].replace("-", ".") if len(label) == 7 and label[4] == "-" else label
                  for label, _ in rows]
        self.pdf.set_font_size(5.5)
        widest = max(self.pdf.get_string_width(t) for t in shorts) + 1
        step = max(1, -(-widest // slot))  # every step-th label, so that none overlap
        for r, short in enumerate(shorts):
            if r % step == 0:
                sx = x + 3 + r * slot
                self.text(sx - slot, base + 0.3, 3 * slot, label_h, short, 5.5, "C",
                          (80, 80, 80))

    def _pyramid(self, rows, series, x, top, w, row_h) -> None:
        label_w = 16.0
        mid = x + w / 2
        half = (w - label_w - 16) / 2
        peak = max((v for _, values in rows for v in values), default=0) or 1
        for r, (label, (left, right)) in enumerate(rows):
            ry = top + r * row_h
            self.text(mid - label_w / 2, ry, label_w, row_h, label, 6, "C")
            lw, rw = half * left / peak, half * right / peak
            self.bar(mid - label_w / 2 - lw, ry + row_h * 0.15, lw, row_h * 0.7,
                     series_color(series[0], 0))
            self.bar(mid + label_w / 2, ry + row_h * 0.15, rw, row_h * 0.7,
                     series_color(series[1], 1))
            self.text(mid - label_w / 2 - lw - 9, ry, 8.5, row_h, f"{left:,}", 6, "R")
            self.text(mid + label_w / 2 + rw + 0.5, ry, 9, row_h, f"{right:,}", 6)

    def charts(self, charts: list[dict], y: float) -> None:
        """Every chart with every group (issue #14 item 20): two to a row while their
        groups fit a cell; a chart with more groups takes the full width and the height
        its groups need, carried on over as many pages as it takes."""
        bottom = PAGE_H - MARGIN - FOOTER
        pairs = (len(charts) + 1) // 2
        h = max(MIN_CELL, min(62.0, (bottom - y - GAP * (pairs - 1)) / max(pairs, 1)))
        w = (PAGE_W - 2 * MARGIN - GAP) / 2
        column = 0
        for chart in charts:
            rows = _rows(chart)
            if _needed(chart, len(rows)) <= h:
                if column == 0 and y + h > bottom:
                    y = self.new_page()
                self.chart(chart, MARGIN + column * (w + GAP), y, w, h)
                if column == 1:
                    y += h + GAP
                column = 1 - column
                continue
            if column == 1:
                y, column = y + h + GAP, 0
            part = 0
            while rows:
                fit = int((bottom - y - _needed(chart, 0)) // ROW_H)
                if fit < min(len(rows), 3):
                    y = self.new_page()
                    continue
                taken, rows = rows[:fit], rows[fit:]
                height = _needed(chart, len(taken))
                self.chart(chart, MARGIN, y, PAGE_W - 2 * MARGIN, height, taken, part > 0)
                y, part = y + height + GAP, part + 1
        note = "数据口径：在册人员为单位管理和社区管理的退休人员；各数字与系统中人员名册的筛选结果一致。"
        self.text(MARGIN, PAGE_H - MARGIN - FOOTER + 1, PAGE_W - 2 * MARGIN, 4, note, 6.5,
                  color=(110, 110, 110))

    def new_page(self) -> float:
        self.pdf.add_page()
        return MARGIN

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def summary_pdf(board: Board, author: str) -> bytes:
    """A4: the filters, the number cards and every chart as bars, every group of every
    chart drawn (more pages when they need them)."""
    doc = _Summary()
    y = doc.header(board, author)
    y = doc.cards(board.cards, y)
    doc.charts(board.charts, y)
    return doc.output()
