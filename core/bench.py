"""``retiree-admin bench``: build N retirees quickly, then time the screens and jobs that
matter at scale, each as the median of several runs and as a ratio to the raw SQL that
returns the same rows in the same run.

Screens are measured in-process through the Flask test client (no HTTP server and no
network in the figures); the import and the export run in a child process so that their
peak memory is their own (the PSS of that process and of the import's workers, summed).
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select, text

from core.extensions import db
from core.views.base import COUNT_EXACT_UP_TO

RUNS = 5


def _median_ms(fn, runs: int = RUNS) -> float:
    fn()  # warm caches once
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _raw(sql: str, params: dict):
    def run():
        with db.engine.connect() as con:
            con.execute(text(sql), params).all()
    return run


def _get(client, url: str):
    def run():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    return run


def _raw_page(path: str, offset: int, where: str = "") -> tuple[str, dict]:
    """The rows of a list page and its count, capped as the screens cap it."""
    sql = ("SELECT r.id, r.name, r.gender, r.personal_no, r.id_card_no, r.phone, r.category, "
           "c.name, r.management_state, r.form_complete, "
           "(SELECT count(*) FROM (SELECT 1 FROM retiree r2 WHERE r2.region_path LIKE :p"
           + where.replace("r.", "r2.") + f" LIMIT {COUNT_EXACT_UP_TO + 1}) capped) "
           "FROM retiree r LEFT JOIN region c ON c.id = r.community_id "
           "WHERE r.region_path LIKE :p" + where +
           " ORDER BY r.id DESC LIMIT 20 OFFSET :o")
    return sql, {"p": path + "%", "o": offset}


def _login(app, username: str, password: str):
    client = app.test_client()
    response = client.post("/login/", data={"username": username, "password": password})
    assert response.status_code == 302, f"login {username} failed"
    return client


def _child(code: str, *args: str) -> dict:
    """Run ``code`` in a fresh interpreter with the same database; returns its JSON
    output with its peak memory in MB: the largest sum, sampled every 0.2 s, of the
    proportional set size (PSS) of the process and its children (an import's workers
    share the pages they were forked with; PSS counts a shared page once in all). Where
    /proc is missing, the process's own peak RSS."""
    env = dict(os.environ, DATABASE_URL=current_app.config["SQLALCHEMY_DATABASE_URI"])
    script = ("import json, resource, sys, time\n"
              "from core.app import create_app\n"
              "app = create_app({'TESTING': True})\n"
              "with app.app_context():\n" + "\n".join("    " + line for line in code.splitlines())
              + "\nout['peak_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
              "print(json.dumps(out))\n")
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        child = subprocess.Popen([sys.executable, "-c", script, *args], env=env,
                                 stdout=stdout, stderr=stderr)
        peak = 0.0
        while child.poll() is None:
            peak = max(peak, _tree_pss_mb(child.pid))
            time.sleep(0.2)
        stdout.seek(0)
        stderr.seek(0)
        if child.returncode:
            raise click.ClickException("子进程失败：" + stderr.read().strip()[-1500:])
        out = json.loads(stdout.read().strip().splitlines()[-1])
    if peak:
        out["peak_mb"] = peak
    return out


def _tree_pss_mb(pid: int) -> float:
    """PSS of ``pid`` and its children in MB (0 where /proc cannot tell)."""
    total = 0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for each in [str(pid), *children]:
            for line in Path(f"/proc/{each}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    except (OSError, ValueError):
        return 0.0
    return total / 1024


IMPORT_JOB = """
from core.extensions import db
from core.registry import exchange, import_workers
t = time.perf_counter()
result = exchange.import_retirees(db.session, sys.argv[1], 'bench')
out = {'rows': result.total, 'created': result.created, 'failed': result.failed,
       'seconds': time.perf_counter() - t,
       'workers': import_workers.worker_count(db.session)
       if result.total >= app.config['IMPORT_PARALLEL_FROM_ROWS'] else 1}
"""

EXPORT_JOB = """
from core.extensions import db
from core.registry import exchange
from core.registry.models import Retiree
t = time.perf_counter()
n = exchange.export_retirees(db.session.query(Retiree).order_by(Retiree.id), sys.argv[1],
                             limit=int(sys.argv[2]))
out = {'rows': n, 'seconds': time.perf_counter() - t}
"""

MAKE_IMPORT_FILE = """
from sqlalchemy import select
from core.demo import make_id_card_no, retiree_rows
from core.extensions import db
from core.registry import excel
from core.registry.models import EmploymentAgency, Enterprise
from core.regions import Region
communities = db.session.execute(select(Region).where(Region.level == 'community')).scalars().all()
ents = {e.id: e.unit_no for e in db.session.execute(select(Enterprise)).scalars()}
ags = {a.id: a.code for a in db.session.execute(select(EmploymentAgency)).scalars()}
codes = {c.id: c.code for c in communities}
rows = retiree_rows(int(sys.argv[2]), 777, communities, '/x/', list(ents), list(ags), 90000000)
seen = {}
def convert(row):
    # New people: ID numbers from an area no demo person has, so none clashes.
    key = (row['birth_date'], row['gender'])
    seen[key] = seen.get(key, -1) + 1
    row['id_card_no'] = make_id_card_no('110101', row['birth_date'], seen[key], row['gender'])
    row['employer'] = ents.get(row.pop('employer_id'))
    row['custodian_agency'] = ags.get(row.pop('custodian_agency_id'))
    row['community'] = codes.get(row.pop('community_id'))
    return row
out = {'rows': excel.write_export(sys.argv[1], (convert(r) for r in rows))}
"""


def build(n: int, seed: int) -> float:
    from core.demo import build_users, insert_retirees

    have = db.session.scalar(select(func.count()).select_from(
        db.metadata.tables["retiree"]))
    t = time.perf_counter()
    if have < n:
        insert_retirees(n - have, seed)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as con:
                con.execution_options(isolation_level="AUTOCOMMIT").execute(
                    text("VACUUM ANALYZE retiree"))
    build_users()
    return time.perf_counter() - t


def measure(n: int, import_rows: int, export: bool) -> list[tuple[str, float | str, str]]:
    from core.app import create_app
    from core.demo import DEMO_PASSWORD
    from core.registry.models import Retiree

    app = current_app._get_current_object()
    # Requests go to a second app instance: inside this command's app context a test
    # client of the same app would share its session and ``g`` instead of getting its own.
    web = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False,
                      "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    rows = _Table()
    community = db.session.execute(text(
        "SELECT region_path, count(*) FROM retiree WHERE residence_type = 'local' "
        "GROUP BY region_path ORDER BY count(*) DESC LIMIT 1")).first()
    users = {"community": community[0], "city": "/" + app.config["CITY"]["code"] + "/"}
    pk = db.session.scalar(select(Retiree.id).where(
        Retiree.region_path == community[0]).limit(1))
    for who, path in users.items():
        client = (_community_client(web, path, DEMO_PASSWORD) if who == "community"
                  else _login(web, "city", DEMO_PASSWORD))
        deep = 200 if who == "city" else 50
        cases = [
            ("首页", "/retiree/list/", 0, ""),
            (f"第{deep}页", f"/retiree/list/?page_RetireeModelView={deep - 1}", (deep - 1) * 20, ""),
            ("筛选+姓名", "/retiree/list/?_flt_0_category=enterprise&_flt_0_name=%E7%8E%8B",
             0, " AND r.category = 'enterprise' AND r.name LIKE '%王%'"),
        ]
        for label, url, offset, where in cases:
            sql, params = _raw_page(path, offset, where)
            raw = _median_ms(_raw(sql, params))
            html = _median_ms(_get(client, url))
            rows.append((f"{who} 列表页 {label}（HTML）", html, f"{html / raw:.1f}× 原生SQL"))
        api_raw = _median_ms(_raw(*_raw_page(path, 0)))
        api = _median_ms(_get(client, "/api/v1/retiree/?q=(page_size:20)"))
        rows.append((f"{who} API 列表首页", api, f"{api / api_raw:.1f}× 原生SQL"))
    client = _community_client(web, users["community"], DEMO_PASSWORD)
    raw_one = _median_ms(_raw("SELECT * FROM retiree WHERE id = :i", {"i": pk}))
    for label, url in (("查看", f"/retiree/show/{pk}"), ("编辑页", f"/retiree/edit/{pk}")):
        ms = _median_ms(_get(client, url))
        rows.append((f"退休人员{label}", ms, f"{ms / raw_one:.1f}× 原生SQL"))
    for row in _dashboard(app, _login(web, "city", DEMO_PASSWORD)):
        rows.append(row)
    with tempfile.TemporaryDirectory() as tmp:
        if import_rows:
            src = str(Path(tmp) / "import.xlsx")
            _child(MAKE_IMPORT_FILE, src, str(import_rows))
            out = _child(IMPORT_JOB, src)
            rows.append((f"导入 {out['rows']:,} 行（完整校验）", out["seconds"] * 1000,
                         f"{out['rows'] / out['seconds']:,.0f} 行/秒，峰值 {out['peak_mb']:.0f} MB，"
                         f"新增 {out['created']:,}，失败 {out['failed']}，{out['workers']} 个写入进程"))
        if export:
            out = _child(EXPORT_JOB, str(Path(tmp) / "export.xlsx"), str(n))  # at most N rows
            rows.append((f"导出 {out['rows']:,} 行", out["seconds"] * 1000,
                         f"{out['rows'] / out['seconds']:,.0f} 行/秒，峰值 {out['peak_mb']:.0f} MB"))
    return rows


class _Table(list):
    """The results, each printed as a table row when measured (a later failure keeps
    what was measured on screen)."""

    def append(self, row: tuple[str, float | str, str]) -> None:
        super().append(row)
        label, ms, note = row
        value = f"{ms:,.1f}" if isinstance(ms, float) else ms
        click.echo(f"| {label} | {value} | {note} |")


def _community_client(app, path: str, password: str):
    """A community clerk of the busiest community (created on first use)."""
    from core.commands import create_user
    from core.regions import Region

    code = path.rstrip("/").rsplit("/", 1)[-1]
    username = f"bench_{code}"
    if not current_app.appbuilder.sm.find_user(username=username):
        region = db.session.scalar(select(Region).where(Region.code == code))
        create_user(username, password, "community_staff", region.code, temporary=False)
    return _login(app, username, password)


def _dashboard(app, client) -> list:
    """Issue 6: all charts and cards for the city, through the screen's own data URL
    (one scoped SQL tally), beside the plain count it starts from."""
    raw = _median_ms(_raw("SELECT count(*) FROM retiree", {}), 3)
    ms = _median_ms(_get(client, "/dashboard/data"), 3)
    return [("仪表盘全部图表数据（市级，/dashboard/data）", ms, f"{ms / raw:.1f}× 全表count(*)")]


def cpu_reference_ms() -> float:
    """A fixed pure-Python loop (five million additions), best of three: on a shared
    virtual machine the same code runs up to half as fast from one hour to the next, and
    this figure printed beside the table says how fast the machine was at the time."""
    best = float("inf")
    for _ in range(3):
        t, total = time.perf_counter(), 0
        for i in range(5_000_000):
            total += i
        best = min(best, time.perf_counter() - t)
    return best * 1000


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} 核 {cpu}，{mem:.0f} GiB，Python {platform.python_version()}，"
            f"{db.engine.dialect.name} {db.engine.dialect.server_version_info or ''}")


@click.command("bench")
@click.option("--retirees", "n", default=100_000, show_default=True, type=click.IntRange(1000))
@click.option("--db", "url", default=None, help="数据库URL（默认：当前配置的数据库）")
@click.option("--import-rows", default=100_000, show_default=True, type=click.IntRange(0))
@click.option("--no-export", is_flag=True, help="不测导出")
@click.option("--seed", default=1, show_default=True)
@click.option("--json-out", type=click.Path(dir_okay=False), help="结果另存为JSON")
@with_appcontext
def bench_command(n, url, import_rows, no_export, seed, json_out):
    """性能基准：建 N 名退休人员，测列表、查看、仪表盘、导入、导出（中位数，与原生SQL之比）。"""
    if url and url != os.environ.get("DATABASE_URL"):
        # The app is already bound to a database: run again on the one asked for.
        args = [a for a in sys.argv[1:] if a != "--db" and a != url and not a.startswith("--db=")]
        os.execvpe(sys.argv[0], [sys.argv[0], *args], dict(os.environ, DATABASE_URL=url))
    from core.setup import init_database

    init_database()
    built = build(n, seed)
    click.echo(f"数据：{n:,} 名退休人员（准备用时 {built:.0f} 秒）；机器：{machine()}；"
               f"CPU参考：纯Python循环500万次 {cpu_reference_ms():.0f} ms（开始时）")
    click.echo("\n| 项目 | 中位数 (ms) | 说明 |\n|---|---:|---|")
    results = measure(n, import_rows, not no_export)
    click.echo(f"\nCPU参考（结束时）：{cpu_reference_ms():.0f} ms")
    if json_out:
        Path(json_out).write_text(json.dumps({"retirees": n, "machine": machine(),
                                              "results": results}, ensure_ascii=False, indent=1))
