"""``retiree-admin worker`` and ``retiree-admin jobs …``."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from core import job_purge
from core.cli import fail
from core.extensions import db
from core.jobs import Job, queue, run, stale


@click.command("worker")
@click.option("--burst", is_flag=True, help="处理完队列中的任务后退出")
@with_appcontext
def worker_command(burst):
    """运行后台任务进程（JOB_BACKEND=rq 时，从 Redis 队列取任务）。"""
    from rq import Worker

    job_purge.maybe_purge(current_app._get_current_object())
    q = queue(current_app)
    Worker([q], connection=q.connection).work(burst=burst)


@click.group("jobs")
def jobs_group():
    """后台任务：list / run / purge。"""


@jobs_group.command("list")
@click.option("--limit", default=20, show_default=True)
@with_appcontext
def jobs_list(limit):
    """列出最近的后台任务及进度。"""
    for job in db.session.execute(select(Job).order_by(Job.id.desc()).limit(limit)).scalars():
        total = f"/{job.total}" if job.total else ""
        flag = "（进程已中断，可重新运行）" if stale(job) else ""
        click.echo(f"#{job.id}\t{job.kind}\t{job.state_label}{flag}\t{job.progress}{total}\t"
                   f"{job.created_by}\t{job.created_at:%Y-%m-%d %H:%M}")


@jobs_group.command("run")
@click.argument("job_id", type=int)
@click.option("--force", is_flag=True, help="确知原进程已中断时，重跑仍显示“进行中”的任务")
@with_appcontext
def jobs_run(job_id, force):
    """在本进程中运行（或重新运行）一个任务；中断过的导入重跑不会重复登记。"""
    job = db.session.get(Job, job_id)
    if job is None:
        fail(f"任务 #{job_id} 不存在")
    if job.status == "running" and not stale(job) and not force:
        fail(f"任务 #{job_id} 正在运行（若确知其进程已中断，请加 --force）")
    job = run(job_id)
    click.echo(f"任务 #{job.id}：{job.state_label} {job.result_data or job.error or ''}")
    if job.status != "done":
        raise SystemExit(1)


@jobs_group.command("purge")
@click.option("--days", type=click.IntRange(min=0), default=None,
              help="删除早于该天数的任务文件（默认 JOB_FILE_RETENTION_DAYS）")
@with_appcontext
def jobs_purge(days):
    """删除超过保留期限的上传文件、错误报告和导出文件（含完整身份证号）。"""
    removed = job_purge.purge(current_app._get_current_object(), days)
    click.echo(f"已删除任务文件 {removed['files']} 个，过期幂等记录 {removed['idempotency_keys']} 条")


ALL = [worker_command, jobs_group]
