"""The one function every xlsx the project writes puts its text through (issue #12 item 19).

Formula injection (OWASP "CSV injection"): text beginning with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return (or the full-width forms Excel also accepts) is run as a
formula by openpyxl (``cell.value = "=…"`` writes ``<f>``) and by a spreadsheet when the
cell is edited or the sheet saved as CSV: a region or enterprise named
``=HYPERLINK("http://x","y")`` becomes a link in every export. Such text is written with
a leading ``'`` — the spreadsheet convention for "this is text" — and the importer strips
exactly one (``restore``), so a name that began with ``=`` imports back unchanged. Only
text is touched: numbers (negative ones too) and dates stay what they are; ID numbers
and phones are text and pass through unchanged unless they start with a trigger.

Writers: the registry's streamed export and error report and the import template
(``core.registry.excel``), the dashboard (``core.dashboard.export``), the audit trail
(``core.audit.views``).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

# CSV/DDE injection triggers (OWASP), including the full-width forms Excel also accepts.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def neutralise(text: str) -> str:
    """Text a spreadsheet shows as text: formula-like text gets a leading ``'``.

    Text already starting with ``'`` before a trigger gets one more, so that ``restore``
    (which strips exactly one) round-trips every value; control characters openpyxl
    refuses are dropped.
    """
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    return "'" + text if text.lstrip("'").startswith(FORMULA_START) else text


def restore(text: str) -> str:
    """Inverse of ``neutralise`` (the importer's side)."""
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_START):
        return text[1:]
    return text


def safe_cell(value: Any) -> Any:
    """A value for an openpyxl cell: text neutralised, anything else as it is."""
    return neutralise(value) if isinstance(value, str) else value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """A row for ``worksheet.append``, each value through ``safe_cell``."""
    return [safe_cell(v) for v in values]
