"""Files that leave the system: a temporary export is served and removed.

Werkzeug never runs ``call_on_close`` for a file response (it passes the file straight
to the server), so removing the file there leaves it on disk. Here the file is opened,
then unlinked: the open handle keeps the data until the response is sent and closed,
and nothing stays behind even if the download is interrupted (POSIX)."""
from __future__ import annotations

from pathlib import Path

from flask import send_file


def send_temporary(path, download_name: str, **kwargs):
    handle = open(path, "rb")  # noqa: SIM115  (closed by the WSGI server)
    Path(path).unlink(missing_ok=True)
    return send_file(handle, as_attachment=True, download_name=download_name, max_age=0,
                     **kwargs)
