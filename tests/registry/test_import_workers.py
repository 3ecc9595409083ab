"""Issue 7, A31: an import split over worker processes (forked, or fresh interpreters when
the importing process has other threads) reads as a single-process import — same counts,
same errors in row order, a person named twice still registered then updated, an ID
number never held twice, the audit chain whole — and a killed import leaves no worker
behind, whole chunks only, and a re-run that adds nobody twice."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.testing import communicate, run, wait_until


@pytest.fixture(params=["fork", "spawn"])
def start(request, app, monkeypatch):
    from core.registry import import_workers

    monkeypatch.setattr(import_workers, "_may_fork", lambda: request.param == "fork")
    app.config["IMPORT_PARALLEL_FROM_ROWS"] = 10
    return request.param


def _people(app, where=None):
    from core.extensions import db
    from core.registry.models import Retiree

    with app.app_context():
        query = select(func.count()).select_from(Retiree)
        if where is not None:
            query = query.where(where)
        count = db.session.scalar(query)
        db.session.remove()
    return count


def test_A31_split_import_reports_as_one_process_would(app, import_file, run_import, start):
    from core.audit.trail import verify
    from core.extensions import db
    from core.registry.models import RetireeHistory

    n = 130
    path, bad = import_file(n, bad_every=9)
    seen = []
    split = run_import(path, workers=2, chunk_rows=7, progress=seen.append)
    assert (split.total, split.created, split.failed) == (n, n - len(bad), len(bad))
    assert [row_no for row_no, _, _ in split.errors] == bad
    assert seen == sorted(seen) and seen[-1] == n
    assert _people(app) == n - len(bad)
    again = run_import(path, workers=1)  # one process: the same refusals, nothing new
    assert (again.created, again.unchanged) == (0, n - len(bad))
    assert again.errors == split.errors
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RetireeHistory)) == n - len(bad)
        assert verify(db.session) == []  # two writers, one unbroken audit chain


def _apart(rows, first: dict) -> dict:
    """A new person whose personal number goes to the other worker than ``first``'s."""
    from core.registry.import_workers import _worker_of

    return next(row for n in range(2, 200) if _worker_of(row := rows(n), 2)
                != _worker_of(first, 2))


def test_F4_split_import_person_named_twice_is_registered_then_updated(app, rows, tmp_path,
                                                                       run_import, start):
    from core.extensions import db
    from core.registry import excel
    from core.registry.models import Retiree, RetireeHistory

    first = rows(1)
    again = first | {"phone": "13900000001"}
    others = [rows(n) for n in range(300, 330)]
    excel.write_export(tmp_path / "twice.xlsx", [first, *others[:15], again, *others[15:]])
    result = run_import(tmp_path / "twice.xlsx", workers=2, chunk_rows=4)
    assert (result.created, result.updated, result.failed) == (31, 1, 0), result.summary()
    with app.app_context():
        person = db.session.scalar(select(Retiree).where(Retiree.personal_no == "00001001"))
        assert person.phone == "13900000001"
        history = db.session.execute(
            select(RetireeHistory.action, RetireeHistory.field)
            .where(RetireeHistory.retiree_id == person.id).order_by(RetireeHistory.id)).all()
        assert history == [("import", None), ("import", "phone")]


def test_F4_split_import_one_id_number_for_two_people_in_two_workers(app, rows, tmp_path,
                                                                     run_import, start):
    """Two workers check the same new ID number at once for two people: one is
    registered, the other refused with a message; never both."""
    from core.registry import excel, exchange

    first = rows(1)
    clash = _apart(rows, first) | {k: first[k] for k in ("id_card_no", "birth_date")}
    others = [rows(n) for n in range(300, 320)]
    excel.write_export(tmp_path / "clash.xlsx", [first, clash, *others])
    result = run_import(tmp_path / "clash.xlsx", workers=2, chunk_rows=50)
    assert (result.created, result.failed) == (21, 1), result.summary()
    (row_no, _, reasons), = result.errors
    assert row_no in (2, 3)
    assert reasons in ([f"身份证号{first['id_card_no']}已登记，不能重复登记"],
                       [exchange.DB_REFUSED])
    from core.registry.models import Retiree

    assert _people(app, Retiree.id_card_no == first["id_card_no"]) == 1


def test_A31_split_import_is_used_on_postgresql_only_by_default(app):
    from core.extensions import db
    from core.registry.import_workers import worker_count

    with app.app_context():
        expected = app.config["IMPORT_WORKERS"] if db.engine.dialect.name == "postgresql" else 1
        assert worker_count(db.session) == expected


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _cli_import(app, path):
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               RETIREE_ADMIN_INSTANCE_PATH=app.instance_path,
               RETIREE_ADMIN_IMPORT_PARALLEL_FROM_ROWS="100")
    cli = [sys.executable, "-c", "from core.cli import main; main()", "import", "retirees",
           str(path), "--workers", "2"]
    return cli, env


def _half_way(app, importer):
    """The workers of an import, once 200 people are in."""
    def partly_imported():
        assert importer.poll() is None, "the import finished before it could be stopped"
        return _people(app) >= 200

    wait_until(partly_imported, 240, "the split import to store 200 people", interval=0.1)
    workers = _children(importer.pid)
    assert len(workers) == 2
    return workers


def test_ctrl_c_stops_a_split_import_after_the_chunks_in_hand(app, import_file):
    """Ctrl-C reaches the whole process group, as from a terminal: the importing process
    stops dealing rows, each worker finishes its chunk and exits, nothing is half-written."""
    from core.extensions import db
    from core.registry.models import RetireeHistory

    n = 5000
    path, _ = import_file(n)
    cli, env = _cli_import(app, path)
    importer = subprocess.Popen(cli, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
    workers = _half_way(app, importer)
    os.killpg(importer.pid, signal.SIGINT)
    _, stderr = communicate(importer, seconds=60,
                            waiting_for="the import to stop after Ctrl-C")
    assert importer.returncode != 0
    assert "Traceback" not in stderr, stderr[-2000:]
    assert not any(map(_running, workers))
    partial = _people(app)
    assert 0 < partial < n
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RetireeHistory)) == partial


def test_killed_split_import_leaves_whole_chunks_no_worker_and_reruns_cleanly(app, import_file):
    """The importing process is killed half-way: its workers notice and stop, every
    stored person is whole, and the re-run adds only the rest. (Up to two chunks per worker
    are in its pipe: the file is larger than that.)"""
    n = 5000
    path, _ = import_file(n)
    cli, env = _cli_import(app, path)
    importer = subprocess.Popen(cli, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    workers = _half_way(app, importer)
    importer.send_signal(signal.SIGKILL)
    communicate(importer, seconds=30, waiting_for="the killed import to exit")
    wait_until(lambda: not any(map(_running, workers)), 60,
               "the workers of the killed import to stop (a worker outlived it)")
    partial = _people(app)
    assert 0 < partial < n, partial
    from core.extensions import db
    from core.registry.models import Retiree, RetireeHistory

    with app.app_context():  # whole chunks: each person with the history row of the import
        assert db.session.scalar(select(func.count()).select_from(RetireeHistory)) == partial
        db.session.remove()
    rerun = run(cli, env=env, capture_output=True, text=True, seconds=300,
                waiting_for="the re-run of the killed import")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"新增 {n - partial}；更新 0；无变化 {partial}；失败 0" in rerun.stdout
    assert _people(app) == n
    assert _people(app, Retiree.region_path == "") == 0
