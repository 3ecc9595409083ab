"""Every file the application sends carries two names (issue 14 item 7): the Chinese one a
clerk recognises and an ASCII one for clients that cannot read it (RFC 6266):
``attachment; filename="retirees-2026-12-08.xlsx"; filename*=UTF-8''%E9%80%80…xlsx``.

Werkzeug's ``send_file(download_name="导入错误报告.xlsx")`` also writes ``filename*``, but
its ASCII fallback is the name with every non-ASCII character dropped: ``filename=.xlsx``,
which Chromium saves as "download" and Windows cannot open. Here the fallback is given by
the caller, a meaningful ASCII name. Every download of core, plugins and districts goes
through ``send_download`` (a file) or ``download_response`` (bytes in memory)."""
from __future__ import annotations

import re
from datetime import date
from urllib.parse import quote

from flask import Response, send_file

_NOT_FALLBACK = re.compile(r"[^A-Za-z0-9._-]+")
# Characters no saved file name may hold (Windows and POSIX), and control characters.
_NOT_IN_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
# RFC 5987 attr-char besides letters and digits (``quote`` never escapes "_.-~").
_ATTR_CHARS = "!#$&+^`|"


def today_stamp() -> str:
    """The day in a file name: ``2026-12-08``."""
    return date.today().isoformat()


def fallback_name(fallback: str) -> str:
    """``fallback`` as a token-safe ASCII file name; refuses one with no name before its
    extension (``.xlsx``), which is what the fallback exists to avoid."""
    safe = _NOT_FALLBACK.sub("-", fallback).strip("-")
    if not safe.split(".", 1)[0].strip("-_"):
        raise ValueError(f"an ASCII download name needs a stem: {fallback!r}")
    return safe


def content_disposition(name: str, fallback: str, *, inline: bool = False) -> str:
    """The Content-Disposition value: ``fallback`` as ``filename`` and, when ``name`` is not
    that same ASCII name, ``name`` as ``filename*`` (UTF-8, percent-encoded)."""
    kind = "inline" if inline else "attachment"
    ascii_name = fallback_name(fallback)
    value = f'{kind}; filename="{ascii_name}"'
    shown = _NOT_IN_NAME.sub("_", name).strip() or ascii_name
    if shown != ascii_name:
        value += f"; filename*=UTF-8''{quote(shown, safe=_ATTR_CHARS)}"
    return value


def send_download(file, name: str, fallback: str, *, inline: bool = False,
                  mimetype: str | None = None) -> Response:
    """A file (a path or an open binary file) sent with both names, never cached."""
    response = send_file(file, mimetype=mimetype, as_attachment=not inline,
                         download_name=fallback_name(fallback), max_age=0)
    response.headers["Content-Disposition"] = content_disposition(name, fallback,
                                                                  inline=inline)
    return response


def download_response(data: bytes, name: str, fallback: str, mimetype: str, *,
                      inline: bool = False) -> Response:
    """Bytes built in memory (a PDF, a workbook) sent with both names, never stored."""
    return Response(data, mimetype=mimetype, headers={
        "Content-Disposition": content_disposition(name, fallback, inline=inline),
        "Cache-Control": "no-store"})
