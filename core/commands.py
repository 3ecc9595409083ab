"""CLI commands of core (``retiree-admin --help``)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from core.auth.duties import duties_violation, effective_role_names
from core.auth.users import roles_label, stored_email
from core.cli import fail
from core.errors import RuleViolation
from core.extensions import db
from core.regions import Region, region_by_code
from core.scaffold import plugins_new_command
from core.security import ROLE_LEVELS, ROLE_TITLES, RegionUser


@click.command("init")
@with_appcontext
def init_command():
    """建库或升级数据库结构，同步角色权限，初始化区域树（可重复执行）。"""
    from core.setup import init_database

    result = init_database()
    click.echo(f"数据库已就绪（新增区域 {result['regions_created']} 个）。")


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535),
              help="端口")
@click.option("--demo", is_flag=True, help="演示模式（允许默认密钥）")
def run_command(host, port, demo):
    """启动Web服务。"""
    from core.app import InsecureConfig, check_secret_key

    app = current_app._get_current_object()
    if demo:
        app.config["DEMO_MODE"] = True
    try:
        check_secret_key(app)
    except InsecureConfig as exc:
        fail(str(exc))
    click.echo(f"访问地址：http://{host}:{port}/")
    # Flask ignores app.run() inside its own CLI, so serve with werkzeug directly.
    from werkzeug.serving import run_simple

    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


# --- users ---------------------------------------------------------------------------

@click.group("users")
def users_group():
    """用户管理：create / grant / list / check / disable。"""


@users_group.command("create")
@click.argument("username")
@click.option("--password", required=True,
              help="初始密码（至少8位，含大写、小写、数字、其他字符中的3类，不含用户名）")
@click.option("--role", "roles", required=True, multiple=True,
              help="角色代码（可重复；可选值见 users roles；三员分立：系统、安全、审计管理员只能担任其一，且不兼任业务角色）")
@click.option("--region", "region_code", required=True, help="所属区域代码")
@click.option("--name", default=None, help="姓名")
@click.option("--email", default=None, help="电子邮箱（选填）")
@click.option("--temporary/--no-temporary", default=None,
              help="首次登录须修改密码（默认按配置 PASSWORD_CHANGE_AT_FIRST_LOGIN）")
@with_appcontext
def users_create(username, password, roles, region_code, name, email, temporary):
    """新建用户并分配到一个区域节点（A6）。"""
    try:
        user = create_user(username, password, list(roles), region_code, name, email,
                           temporary)
    except RuleViolation as exc:
        fail(exc.message)
    click.echo(f"已创建用户 {user.username}（{roles_label(user)}，{user.region.name}）")


def _check_roles(roles: list[str], region: Region) -> None:
    """A role fits the level of the user's region (A6); the roles keep the separation
    of duties (MLPS level 3). The role codes are checked here, once the plugins have
    added theirs (a choice list fixed at import would not know them)."""
    for role in roles:
        if role not in ROLE_TITLES:
            raise RuleViolation(f"没有角色 {role}；可选：{'、'.join(sorted(ROLE_TITLES))}", "role")
        if region.level not in ROLE_LEVELS[role]:
            levels = "、".join(ROLE_LEVELS[role])
            raise RuleViolation(f"角色 {role} 只能分配到以下级别的区域：{levels}", "region")
    message = duties_violation(roles)
    if message is not None:
        raise RuleViolation(message, "role")


def create_user(username, password, role, region_code, name=None, email=None,
                temporary: bool | None = None) -> RegionUser:
    """``role``: a role name or a list of them. ``temporary``: the password must be
    changed at first login (None: the setting PASSWORD_CHANGE_AT_FIRST_LOGIN; fixtures
    and the demo pass False)."""
    from core.auth import policy

    roles = [role] if isinstance(role, str) else list(dict.fromkeys(role))
    sm = current_app.appbuilder.sm
    username = (username or "").strip()
    if not username:
        raise RuleViolation("用户名不能为空", "username")
    if sm.find_user(username=username):
        raise RuleViolation(f"用户名 {username} 已存在", "username")
    policy.check(password, username)
    region = region_by_code(db.session, region_code)
    if region is None:
        raise RuleViolation(f"区域代码 {region_code} 不存在", "region")
    _check_roles(roles, region)
    role_objs = [sm.find_role(r) for r in roles]
    if not role_objs or None in role_objs:
        raise RuleViolation("角色尚未创建，请先运行 retiree-admin init", "role")
    display = name or username
    user = sm.add_user(username, display, "", stored_email(username, email), role_objs,
                       password)
    if not user:
        raise RuleViolation("创建用户失败（邮箱可能重复）", "username")
    user = db.session.get(RegionUser, user.id)
    user.region_id = region.id
    user.must_change_password = (current_app.config["PASSWORD_CHANGE_AT_FIRST_LOGIN"]
                                 if temporary is None else temporary)
    db.session.commit()
    return user


@users_group.command("grant")
@click.argument("username")
@click.option("--role", required=True, help="角色代码（可选值见 users roles）")
@with_appcontext
def users_grant(username, role):
    """给已有用户增加一个角色（须符合三员分立和区域级别）。"""
    user = db.session.scalar(select(RegionUser).where(RegionUser.username == username))
    if user is None:
        fail(f"用户 {username} 不存在")
    if role not in ROLE_TITLES:
        fail(f"没有角色 {role}；可选：{'、'.join(sorted(ROLE_TITLES))}")
    role_obj = current_app.appbuilder.sm.find_role(role)
    if role_obj is None:
        fail("角色尚未创建，请先运行 retiree-admin init")
    try:
        _check_roles(sorted(effective_role_names(user) | {role}), user.region)
    except RuleViolation as exc:
        db.session.rollback()
        fail(exc.message)
    if role_obj not in user.roles:
        user.roles.append(role_obj)
    db.session.commit()
    click.echo(f"用户 {username} 的角色：{roles_label(user)}")


@users_group.command("roles")
@with_appcontext
def users_roles():
    """列出可分配的角色（含已安装插件的角色）：代码、名称、可分配的区域级别。"""
    for code in sorted(ROLE_TITLES):
        click.echo(f"{code}\t{ROLE_TITLES[code]}\t{'、'.join(ROLE_LEVELS[code])}")


@users_group.command("check")
@with_appcontext
def users_check():
    """检查已有用户是否违反三员分立（一人只担任系统、安全、审计管理员之一，且不兼任业务角色）。"""
    users = db.session.execute(select(RegionUser).order_by(RegionUser.username)).scalars()
    bad = [(u.username, duties_violation(effective_role_names(u))) for u in users]
    bad = [(name, message) for name, message in bad if message]
    for name, message in bad:
        click.echo(f"{name}\t{message}")
    if bad:
        fail(f"{len(bad)} 个用户违反三员分立，请停用或调整其角色")
    click.echo("所有用户均符合三员分立。")


@users_group.command("list")
@with_appcontext
def users_list():
    """列出用户。"""
    users = db.session.execute(select(RegionUser).order_by(RegionUser.username)).scalars()
    for u in users:
        roles = ",".join(r.name for r in u.roles)
        region = u.region.name if u.region else "-"
        click.echo(f"{u.username}\t{roles}\t{region}\t{'启用' if u.active else '停用'}")


@users_group.command("disable")
@click.argument("username")
@with_appcontext
def users_disable(username):
    """停用用户（不删除）。"""
    user = db.session.scalar(select(RegionUser).where(RegionUser.username == username))
    if user is None:
        fail(f"用户 {username} 不存在")
    user.active = False
    db.session.commit()
    click.echo(f"已停用用户 {username}")


# --- plugins -------------------------------------------------------------------------

@click.group("plugins")
def plugins_group():
    """插件：list / enable / disable。"""


def _registry():
    return current_app.extensions["retiree_admin.plugins"]


@plugins_group.command("list")
@with_appcontext
def plugins_list():
    """列出已安装的插件及其在各区的启用状态。"""
    plugins = _registry()
    regions = db.session.execute(
        select(Region).where(Region.level.in_(("city", "district"))).order_by(Region.code)
    ).scalars().all()
    if not plugins.plugins:
        click.echo("没有安装插件。")
    for name, loaded in plugins.plugins.items():
        on = [r.name for r in regions
              if plugins.enabled_for_path(name, r.region_path, db.session)]
        click.echo(f"{name}\t{loaded.info.title}\t{loaded.info.version}\t"
                   f"启用：{'、'.join(on) if on else '无'}")


def _switch(name, region_code, enabled):
    region = region_by_code(db.session, region_code)
    if region is None:
        fail(f"区域代码 {region_code} 不存在")
    try:
        _registry().set_enabled(db.session, name, region, enabled, "cli")
    except RuleViolation as exc:
        db.session.rollback()
        fail(exc.message)
    click.echo(f"已{'启用' if enabled else '停用'}插件 {name}（{region.name}）")


@plugins_group.command("enable")
@click.argument("name")
@click.option("--region", "region_code", required=True, help="区或市的区域代码")
@with_appcontext
def plugins_enable(name, region_code):
    """为一个区（或全市）启用插件。"""
    _switch(name, region_code, True)


@plugins_group.command("disable")
@click.argument("name")
@click.option("--region", "region_code", required=True, help="区或市的区域代码")
@with_appcontext
def plugins_disable(name, region_code):
    """为一个区（或全市）停用插件；数据保留。"""
    _switch(name, region_code, False)


# --- demo ----------------------------------------------------------------------------

@click.command("demo")
@click.option("--retirees", default=500, show_default=True, type=click.IntRange(0, 5_000_000))
@click.option("--seed", default=1, show_default=True, type=int)
@with_appcontext
def demo_command(retirees, seed):
    """生成演示数据：街道、社区、单位、各级用户和退休人员（Faker zh_CN）。"""
    from core.demo import build_demo

    logins = build_demo(retirees, seed)
    click.echo(f"已生成演示数据：退休人员 {retirees} 人。")
    click.echo("演示账号（用户名 / 密码 / 角色 / 区域）：")
    for username, password, role, region in logins:
        click.echo(f"  {username} / {password} / {ROLE_TITLES[role]} / {region}")


@click.command("quickstart")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--retirees", default=500, show_default=True, type=click.IntRange(0, 100_000))
@click.pass_context
@with_appcontext
def quickstart_command(ctx, host, port, retirees):
    """一步演示：建库、生成演示数据（首次）、启动服务。"""
    from core.registry.models import Retiree

    ctx.invoke(init_command)
    if db.session.scalar(select(Retiree.id).limit(1)) is None:
        ctx.invoke(demo_command, retirees=retirees, seed=1)
    else:
        click.echo("数据库已有数据，跳过演示数据生成。演示账号见 README。")
    ctx.invoke(run_command, host=host, port=port, demo=True)


plugins_group.add_command(plugins_new_command)

ALL = [init_command, run_command, users_group, plugins_group, demo_command, quickstart_command]
