"""The ``retiree-admin`` command line: init, users, demo, plugins, run.

Refused input ends with a Chinese message and a non-zero exit code, never a traceback.
Most commands run in-process through Flask's CLI runner; the installed console script
itself runs in a subprocess where its own behaviour is the point (its error handling,
refusing to serve with the default secret key). No test starts a server.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.testing import run
from tests.conftest import PASSWORD

SCRIPT = Path(sys.executable).parent / "retiree-admin"


def script(*args: str, database_url: str, cwd: Path,
           seconds: float = 120) -> subprocess.CompletedProcess:
    """Run the installed console script with a clean environment: no secret key, no
    overrides, only the database; given ``patience(seconds)`` to finish."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RETIREE_ADMIN_", "FLASK_")) and k not in ("SECRET_KEY",)}
    env["DATABASE_URL"] = database_url
    return run([str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True, text=True,
               check=False, seconds=seconds, waiting_for=f"`retiree-admin {' '.join(args)}`")


def cli(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def user_count(app) -> int:
    from core.extensions import db
    from core.security import RegionUser

    with app.app_context():
        return db.session.scalar(select(func.count(RegionUser.id)))


def can_log_in(app, username: str, password: str = PASSWORD) -> bool:
    """A successful login redirects away from the login page; a refused one back to it."""
    response = app.test_client().post("/login/",
                                      data={"username": username, "password": password})
    return response.status_code == 302 and not response.location.startswith("/login")


# --- the console script ------------------------------------------------------------------

def test_script_init_creates_the_database_and_refuses_bad_input_without_traceback(
        empty_database, tmp_path):
    assert SCRIPT.is_file(), "the console script is not installed (pip install -e .)"
    first = script("init", database_url=empty_database, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "数据库已就绪（新增区域 9 个）" in first.stdout

    refused = script("users", "create", "wang", "--password", "Hv7#pLq2Ws9e", "--role",
                     "district_admin", "--region", "999999",
                     database_url=empty_database, cwd=tmp_path)
    assert refused.returncode == 2
    assert "错误：区域代码 999999 不存在" in refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr


def test_script_unexpected_error_is_one_line_without_traceback(tmp_path):
    result = script("users", "list", database_url="sqlite:////nonexistent-dir/ra.db",
                    cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("错误：OperationalError")
    assert "Traceback" not in result.stdout + result.stderr


def test_script_run_refuses_the_default_secret_key(database_url, tmp_path):
    """Outside demo mode the server does not start with the default SECRET_KEY."""
    result = script("run", "--port", "8765", database_url=database_url, cwd=tmp_path)
    assert result.returncode != 0
    assert "拒绝启动" in result.stderr and "SECRET_KEY" in result.stderr
    assert "访问地址" not in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_script_help_lists_the_commands(tmp_path, database_url):
    result = script("--help", database_url=database_url, cwd=tmp_path)
    assert result.returncode == 0
    for command in ("init", "run", "users", "demo", "quickstart", "plugins", "db"):
        assert f"  {command} " in result.stdout


# --- run: argument errors (click refuses before anything starts) ------------------------

@pytest.mark.parametrize("port", ["abc", "0", "70000"])
def test_run_bad_port_is_a_usage_error(app, port):
    result = cli(app, "run", "--port", port)
    assert result.exit_code == 2
    assert "Invalid value for '--port'" in result.output


# --- users ---------------------------------------------------------------------------------

def test_A6_users_create_attaches_the_user_to_a_region(app):
    from core.extensions import db
    from core.security import RegionUser

    result = cli(app, "users", "create", "zhang", "--password", "Hv7#pLq2Ws9e", "--role",
                 "community_staff", "--region", "320502001001", "--name", "张社区")
    assert result.exit_code == 0, result.output
    assert "已创建用户 zhang（社区工作人员，东园社区）" in result.output
    with app.app_context():
        user = db.session.scalar(select(RegionUser).where(RegionUser.username == "zhang"))
        assert user.region.code == "320502001001"
        assert [r.name for r in user.roles] == ["community_staff"]
    assert can_log_in(app, "zhang", "Hv7#pLq2Ws9e")
    assert "zhang\tcommunity_staff\t东园社区\t启用" in cli(app, "users", "list").output


@pytest.mark.parametrize(("role", "region", "level"), [
    ("community_staff", "320502", "community"),
    ("street_staff", "320502001001", "street"),
    ("district_admin", "320500", "district"),
    ("city_admin", "320502", "city"),
    ("system_admin", "320502001", "city"),
])
def test_A6_users_create_role_must_match_the_region_level(app, role, region, level):
    before = user_count(app)
    result = cli(app, "users", "create", "wang", "--password", "Hv7#pLq2Ws9e", "--role", role,
                 "--region", region)
    assert result.exit_code != 0
    assert f"角色 {role} 只能分配到以下级别的区域：{level}" in result.output
    assert "Traceback" not in result.output
    assert user_count(app) == before


@pytest.mark.parametrize(("args", "message"), [
    (("wang", "--password", "Hv7#pLq2Ws9e", "--region", "999999"), "区域代码 999999 不存在"),
    (("admin", "--password", "Hv7#pLq2Ws9e", "--region", "320500"), "用户名 admin 已存在"),
    (("wang", "--password", "Ab1", "--region", "320500"), "密码至少8位"),
    (("wang", "--password", "xWang#2024", "--region", "320500"), "密码不能包含用户名"),
    (("  ", "--password", "Hv7#pLq2Ws9e", "--region", "320500"), "用户名不能为空"),
])
def test_users_create_refusals_are_chinese_without_traceback(app, args, message):
    before = user_count(app)
    result = cli(app, "users", "create", *args, "--role", "supervisor")
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert user_count(app) == before


def test_users_create_unknown_role_is_named_in_chinese(app):
    before = user_count(app)
    result = cli(app, "users", "create", "wang", "--password", "Hv7#pLq2Ws9e", "--role",
                 "superuser", "--region", "320500")
    assert result.exit_code == 2
    assert "没有角色 superuser；可选：" in result.output and "supervisor" in result.output
    assert user_count(app) == before and "Traceback" not in result.output


def test_users_create_needs_password_role_and_region(app):
    result = cli(app, "users", "create", "wang", "--password", "Hv7#pLq2Ws9e", "--role", "supervisor")
    assert result.exit_code == 2
    assert "--region" in result.output


def test_users_list_shows_every_user_with_role_region_and_state(app):
    from tests.conftest import USERS

    result = cli(app, "users", "list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == len(USERS)
    assert "d_cl\tdistrict_admin\t沧浪区\t启用" in lines
    assert "admin\tsystem_admin\t苏州市\t启用" in lines


def test_users_disable_stops_login_and_keeps_the_user(app):
    assert can_log_in(app, "c_cl11")
    result = cli(app, "users", "disable", "c_cl11")
    assert result.exit_code == 0
    assert "已停用用户 c_cl11" in result.output
    assert not can_log_in(app, "c_cl11")
    assert "c_cl11\tcommunity_staff\t东园社区\t停用" in cli(app, "users", "list").output


def test_users_disable_unknown_user_is_refused(app):
    result = cli(app, "users", "disable", "nobody")
    assert result.exit_code != 0
    assert "用户 nobody 不存在" in result.output


# --- demo ----------------------------------------------------------------------------------

def test_demo_builds_retirees_and_prints_working_logins(empty_app):
    from core.demo import DEMO_PASSWORD
    from core.extensions import db
    from core.registry.models import Retiree

    assert cli(empty_app, "init").exit_code == 0
    result = cli(empty_app, "demo", "--retirees", "50", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "已生成演示数据：退休人员 50 人。" in result.output
    logins = [line.split(" / ") for line in result.output.splitlines() if " / " in line]
    logins = [parts for parts in logins if parts[1] == DEMO_PASSWORD]
    assert {parts[0].strip() for parts in logins} >= {
        "admin", "city", "district", "community", "seccity", "auditcity", "secdistrict"}
    with empty_app.app_context():
        assert db.session.scalar(select(func.count(Retiree.id))) == 50
    for username, password, *_ in logins:
        assert can_log_in(empty_app, username.strip(), password), username


def test_demo_refuses_a_negative_count(app):
    result = cli(app, "demo", "--retirees", "-1")
    assert result.exit_code == 2


# --- plugins -------------------------------------------------------------------------------

def test_plugins_list_names_every_installed_plugin(app):
    result = cli(app, "plugins", "list")
    assert result.exit_code == 0
    installed = app.extensions["retiree_admin.plugins"].plugins
    if not installed:
        assert "没有安装插件。" in result.output
    for name, loaded in installed.items():
        assert f"{name}\t{loaded.info.title}\t{loaded.info.version}\t启用：无" in result.output


def test_bench_runs_end_to_end_and_prints_its_table(empty_database, tmp_path):
    """The benchmark (issue 7) on a small set: every measurement runs and is printed."""
    out = tmp_path / "bench.json"
    result = script("bench", "--retirees", "1000", "--import-rows", "200", "--json-out",
                    str(out), database_url=empty_database, cwd=tmp_path, seconds=900)
    assert result.returncode == 0, result.stderr[-2000:]
    for label in ("列表页", "API 列表首页", "退休人员查看", "仪表盘", "导入 200 行", "导出",
                  "CPU参考"):
        assert label in result.stdout, result.stdout
    assert out.is_file() and out.stat().st_size > 0
