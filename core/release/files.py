"""Files that leave the system: a temporary export is served and removed.

Werkzeug never runs ``call_on_close`` for a file response (it passes the file straight
to the server), so removing the file there leaves it on disk. Here the file is opened,
then unlinked: the open handle keeps the data until the response is sent and closed,
and nothing stays behind even if the download is interrupted (POSIX)."""
from __future__ import annotations

from pathlib import Path

from core.downloads import send_download


def send_temporary(path, name: str, fallback: str, **kwargs):
    """The file at ``path`` as a download named ``name`` (``fallback`` in ASCII,
    core.downloads), removed from the disk at once."""
    handle = open(path, "rb")  # noqa: SIM115  (closed by the WSGI server)
    Path(path).unlink(missing_ok=True)
    return send_download(handle, name, fallback, **kwargs)
