"""The app factory: ordered, named configure steps (no app is built at import)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg
from flask import Flask, current_app, flash, g, redirect, request
from flask_appbuilder import AppBuilder
from flask_appbuilder.menu import Menu
from sqlalchemy import event

from core import caching, defaults, events, models  # noqa: F401  (mappers, event listeners)
from core.extensions import csrf, db, migrate
from core.plugins import PluginRegistry
from core.scoping import set_request_scope, unscoped
from core.security import ROLES, user_region_path

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"


def configure_templates(app: Flask) -> None:
    """Issue 14 items 4, 5, 22: the templates' filters for values and role names, and the
    site icon at ``/favicon.ico`` (the browser asks there; a rule of the static endpoint,
    public like the other static files)."""
    from core.auth.duties import role_title
    from core.views.base import display_value

    app.jinja_env.filters["display"] = display_value
    app.jinja_env.filters["role_title"] = role_title
    app.add_url_rule("/favicon.ico", endpoint="static", view_func=app.view_functions["static"],
                     defaults={"filename": "favicon.ico"})


def create_app(test_config: dict | None = None, serving: bool = False) -> Flask:
    """Build the app. ``serving`` (the WSGI entry point and ``retiree-admin run``) refuses
    the default secret key outside debug and demo mode."""
    instance = (test_config or {}).get("INSTANCE_PATH") or os.environ.get(
        "RETIREE_ADMIN_INSTANCE_PATH")
    app = Flask(__name__, instance_relative_config=True, instance_path=instance,
                template_folder="templates", static_folder="static",
                static_url_path="/ra-static")
    configure_settings(app, test_config)
    if serving:
        check_secret_key(app)
    configure_security_settings(app)
    configure_database(app)
    caching.init_app(app)
    plugins = configure_plugins(app)
    configure_sessions(app)
    configure_request_scope(app)
    configure_input_guards(app)
    configure_api_errors(app)
    with app.app_context():
        appbuilder = configure_appbuilder(app)
        register_core_views(appbuilder)
        register_plugin_views(appbuilder, plugins)
        register_security_views(appbuilder)
    configure_templates(app)
    configure_request_guards(app)
    configure_fault_tolerance(app)
    configure_cli(app, plugins)
    configure_security_cli(app)
    return app


def _env_value(raw: str):
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def configure_settings(app: Flask, test_config: dict | None) -> None:
    """Defaults from config.py, then the RETIREE_ADMIN_CONFIG file, then env vars."""
    app.config.from_object("config")
    if os.environ.get("RETIREE_ADMIN_CONFIG"):
        app.config.from_envvar("RETIREE_ADMIN_CONFIG")
    for key, raw in os.environ.items():
        if key.startswith("RETIREE_ADMIN_") and key != "RETIREE_ADMIN_CONFIG":
            app.config[key.removeprefix("RETIREE_ADMIN_")] = _env_value(raw)
    if os.environ.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if os.environ.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
    if test_config:
        app.config.update(test_config)
    if app.config.get("MAX_CONTENT_LENGTH") is None:  # issue #13 item 11: one upload cap
        app.config["MAX_CONTENT_LENGTH"] = app.config["IMPORT_MAX_BYTES"] + 1024 * 1024
    # A copy: the PostgreSQL options below must not leak into config.py's dict, which
    # every app built in this process starts from.
    opts = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    opts["connect_args"] = dict(opts.get("connect_args") or {})
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = opts
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            f"sqlite:///{Path(app.instance_path) / 'retiree_admin.db'}")
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgres://") or uri.startswith("postgresql://"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri.split("://", 1)[1]
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://"):
        # PostgreSQL's own $1 placeholders, passed through as they are: psycopg then has
        # no query to rewrite. Its rewrite of %(name)s is cached only for statements of
        # at most 50 parameters, so every multi-row INSERT of an import was parsed anew
        # (a tenth of an import's time, issue 7).
        opts = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        opts.setdefault("paramstyle", "numeric_dollar")
        opts.setdefault("connect_args", {}).setdefault("cursor_factory", psycopg.RawCursor)
    app.config["FAB_ROLES"] = ROLES
    # Merged after FAB's own catalog: ours fills and overrides its zh strings (FAB_NOTES).
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(Path(__file__).parent / "translations"))


class InsecureConfig(RuntimeError):
    pass


def check_secret_key(app: Flask) -> None:
    insecure = app.config["SECRET_KEY"] == app.config["DEFAULT_SECRET_KEY"]
    if insecure and not (app.debug or app.testing or app.config.get("DEMO_MODE")):
        raise InsecureConfig(
            "拒绝启动：SECRET_KEY 仍为默认值。请设置环境变量 SECRET_KEY（演示请用 --demo）。")


def configure_security_settings(app: Flask) -> None:
    """Settings derived at start-up (docs/SECURITY.md): the decoy hash checked for
    unknown users, made like real ones so both take as long (CVE-2025-24023); FAB's
    password fields on our policy; client address and scheme from a trusted proxy."""
    from werkzeug.middleware.proxy_fix import ProxyFix
    from werkzeug.security import generate_password_hash

    from core.auth import policy

    cfg = app.config
    if not cfg.get("AUTH_DB_FAKE_PASSWORD_HASH_CHECK"):
        cfg["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"] = generate_password_hash(
            os.urandom(16).hex(), method=cfg.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
            salt_length=cfg.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16))
    cfg.setdefault("FAB_PASSWORD_COMPLEXITY_VALIDATOR", policy.fab_validator)
    if cfg["PROXY_FIX_X_FOR"] or cfg["PROXY_FIX_X_PROTO"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=cfg["PROXY_FIX_X_FOR"],
                                x_proto=cfg["PROXY_FIX_X_PROTO"])


def configure_sessions(app: Flask) -> None:
    """Idle and absolute session lifetimes, checked before the user is resolved."""
    from core.auth import sessions

    sessions.init_app(app)


def register_security_views(appbuilder: AppBuilder) -> None:
    """The TOTP screen, the audit trail, A33 data-release requests."""
    from core.audit.views import register as register_audit
    from core.auth.views import TotpView
    from core.release.views import register as register_release

    appbuilder.add_view_no_menu(TotpView)
    register_audit(appbuilder)
    register_release(appbuilder)


def configure_request_guards(app: Flask) -> None:
    """After the user is resolved: forced password change and TOTP enrolment, CSRF on
    API writes made with the browser session, CSP and no-store headers; then the
    request-level audit (denied requests, a person's full record opened)."""
    from core.audit import listeners  # noqa: F401  (change audit on every session)
    from core.audit import web as audit_web
    from core.auth import web as auth_web
    from core.views import guards

    guards.init_app(app)  # after FAB's hook: the filters it checks read ``g.user``
    auth_web.init_app(app)
    audit_web.init_app(app)


def configure_fault_tolerance(app: Flask) -> None:
    """Issue 12: retried API POSTs answer once (``Idempotency-Key``, after the request
    guards so that a refused request claims nothing), and the job files' scheduled
    purge."""
    from core import idempotency, job_purge

    idempotency.init_app(app)
    job_purge.init_app(app)


def configure_security_cli(app: Flask) -> None:
    """``retiree-admin audit verify|purge``."""
    from core.audit.commands import ALL as audit_commands

    for command in audit_commands:
        app.cli.add_command(command)


def configure_database(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://"):
        with app.app_context():
            @event.listens_for(db.engine, "connect")
            def _raw_server_cursors(dbapi_conn, _record):
                dbapi_conn.server_cursor_factory = psycopg.RawServerCursor
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            @event.listens_for(db.engine, "connect")
            def _sqlite_pragmas(dbapi_conn, _record):
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA journal_mode=WAL")
                # Lets ``region_path LIKE 'prefix%'`` use the scope index (paths have no case).
                cur.execute("PRAGMA case_sensitive_like=ON")
                cur.close()


def configure_plugins(app: Flask) -> PluginRegistry:
    plugins = PluginRegistry()
    plugins.load(app.config["PLUGIN_PACKAGES"], app.config["PLUGIN_ENTRY_POINT_GROUP"],
                 app.config["PLUGINS_BLOCKLIST"], core_modules=[defaults])
    app.extensions["retiree_admin.plugins"] = plugins
    from core.security import register_role

    for _plugin, spec in plugins.contributions("roles"):
        register_role(spec)
    return plugins


def configure_appbuilder(app: Flask) -> AppBuilder:
    # CSRF before AppBuilder, or API login breaks (FAB_NOTES).
    csrf.init_app(app)
    from core.views import access, rison
    from core.views.home import HomeView

    rison.install()

    appbuilder = AppBuilder(update_perms=False, indexview=HomeView, menu=Menu(reverse=False),
                            base_template="ra_base.html")
    appbuilder.init_app(app, db.session)
    access.init_app(app)  # after FAB's template filters: the navbar's menu check
    return appbuilder


def register_core_views(appbuilder: AppBuilder) -> None:
    from core.dashboard.screens import register as register_dashboard
    from core.registry import jobs  # noqa: F401  (registers the job handlers)
    from core.registry.exchange_views import register as register_exchange
    from core.registry.views import register as register_registry
    from core.views.jobs import register as register_jobs
    from core.views.plugins import register as register_plugin_manager
    from core.views.regions import register as register_regions

    register_registry(appbuilder)
    register_exchange(appbuilder)
    register_jobs(appbuilder)
    register_regions(appbuilder)
    register_plugin_manager(appbuilder)
    register_dashboard(appbuilder)


def register_plugin_views(appbuilder: AppBuilder, plugins: PluginRegistry) -> None:
    """Core applies what plugins return; their views follow the per-district switch. A
    plugin's ``templates/`` folder is searched after core's."""
    from jinja2 import ChoiceLoader, FileSystemLoader

    app = current_app._get_current_object()
    folders = [Path(p.module.__file__).parent / "templates" for p in plugins.plugins.values()]
    app.jinja_loader = ChoiceLoader(
        [app.jinja_loader, *(FileSystemLoader(str(f)) for f in folders if f.is_dir())])
    for name, spec in plugins.contributions("views"):
        view = appbuilder.add_view(spec.view, spec.name, category=spec.category,
                                   icon=spec.icon, category_icon=spec.category_icon,
                                   href=spec.href)
        plugins.own_view(name, view.class_permission_name)
        plugins.own_view(name, spec.name)
        plugins.own_category(name, spec.category)
    for name, api in plugins.contributions("apis"):
        instance = appbuilder.add_api(api)
        plugins.own_view(name, instance.class_permission_name)


def _has_nul(value) -> bool:
    """True if a NUL character is in any string of a decoded JSON value (iterative, so
    deeply nested input cannot exhaust the stack)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _parses(q: str | None) -> bool:
    """False for a ``q`` that breaks the rison parser with something other than its own
    ParserException (``1e+5`` raises ValueError), which FAB's decorator lets through as
    a 500; a ParserException FAB answers itself (it then tries JSON)."""
    import prison

    if not q:
        return True
    try:
        prison.loads(q)
    except prison.decoder.ParserException:
        return True
    except Exception:
        return False
    return True


def configure_input_guards(app: Flask) -> None:
    """Bad input answers 400 with a Chinese message and changes nothing: a NUL character
    anywhere in the query, form or JSON (PostgreSQL refuses it in text), and filter text
    the database cannot compare with its column (``_flt_0_form_complete=abc``); a list
    screen's filter index, relation filter or action FAB would answer 500 for
    (``core.views.guards``, registered with the request guards, after the user)."""
    from sqlalchemy.exc import DataError

    from core.views.filters import InvalidFilter

    @app.before_request
    def _refuse_nul():
        try:
            body = request.get_json(silent=True) if request.is_json else None
        except RecursionError:  # absurdly nested JSON: the API view answers 400 for it
            body = None
        values = [*request.args.values(), *request.form.values(), *request.args.keys()]
        if any(_has_nul(v) for v in values) or _has_nul(body):
            return {"message": "请求中含有不允许的控制字符"}, 400
        if request.path.startswith("/api/") and not _parses(request.args.get("q")):
            return {"message": "查询参数q无法解析，须为rison或JSON"}, 400

    def refuse(message: str):
        """JSON for the API; on a screen, the message flashed over the unfiltered page."""
        db.session.rollback()
        if request.path.startswith("/api/") or request.method != "GET":
            return {"message": message}, 400
        flash(message, "danger")
        return redirect(request.path)

    @app.errorhandler(DataError)
    def _bad_value(exc):
        return refuse("查询条件无效，请检查输入" if request.method == "GET"
                      else "输入的数据超出范围或格式不符，未保存，请检查输入")

    @app.errorhandler(InvalidFilter)
    def _invalid_filter(exc: InvalidFilter):
        return refuse(exc.message)


HTTP_MESSAGES = {
    400: "请求无效", 401: "请先登录", 403: "没有权限", 404: "未找到该资源",
    405: "不支持此请求方法", 409: "操作冲突", 413: "上传内容过大", 415: "不支持此内容类型",
    429: "请求过于频繁，请稍后再试", 500: "系统内部错误",
}
# What a clerk reads on an error page when the refusal carries no Chinese reason of its own.
PAGE_MESSAGES = {
    400: "请求无效，请返回上一页检查填写的内容后重试。",
    401: "请先登录。",
    403: "您没有执行此操作的权限。如需办理，请联系上级管理员。",
    404: "记录不存在或已迁出本辖区，或者网址有误。",
    405: "不支持这种访问方式，请从系统的菜单或按钮进入。",
    409: "该记录已被他人修改，请刷新页面后重试。",
    413: "上传的文件过大，请拆分后再上传。",
    429: "操作过于频繁，请稍后再试。",
    500: "系统内部错误，操作未完成。请稍后重试；如仍出错，请联系系统管理员。",
}
CSRF_MESSAGE = "页面已过期（安全校验未通过），请返回上一页，刷新后重新提交。"


def configure_api_errors(app: Flask) -> None:
    """Every HTTP error answers in Chinese (issue 12 item 17). Under ``/api/`` an error
    raised outside the API views (the 404 of a request guard, a 405, a 429) answers
    ``{"message": …}`` as JSON, as the OpenAPI document says; on the screens it is a page
    inside the app's layout with its reason and a way back, instead of Werkzeug's
    English page. The answer's status and headers (``Allow``…) are kept."""
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:  # routing redirects are not errors
            return exc
        response = exc.get_response()
        if request.path.startswith("/api/"):
            message = HTTP_MESSAGES.get(exc.code, exc.name)
            response.set_data(json.dumps({"message": message}, ensure_ascii=False))
            response.content_type = "application/json; charset=utf-8"
            return response
        response.set_data(_error_page(exc))
        response.content_type = "text/html; charset=utf-8"
        return response


def _same_site_referrer() -> str | None:
    """The page the user came from, as a path of this site (never another host)."""
    from urllib.parse import urlsplit

    from core.auth.web import safe_next

    parts = urlsplit(request.referrer or "")
    if parts.netloc != request.host:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    back = safe_next(path, "")
    return back if back and back != request.full_path.rstrip("?") else None


def _error_page(exc) -> str:
    """The error page in the layout; a bare Chinese page when the layout itself cannot
    be drawn (a broken database connection behind a 500)."""
    from flask import render_template, url_for
    from flask_login import current_user
    from flask_wtf.csrf import CSRFError
    from werkzeug.exceptions import HTTPException

    description = exc.description if isinstance(exc.description, str) else ""
    if isinstance(exc, CSRFError):
        message = CSRF_MESSAGE
    elif description and not description.isascii():
        message = description
    else:
        message = PAGE_MESSAGES.get(exc.code, "请求未能完成，请返回后重试。")
    title = f"{HTTP_MESSAGES.get(exc.code, '请求未能完成')}（{exc.code}）"
    try:
        back = _same_site_referrer()
    except HTTPException:  # an untrusted Host header: no link back at all
        back = None
    try:
        if exc.code >= 500:
            db.session.rollback()
        if "user" not in g:  # refused before FAB's own hook set it (CSRF, host checks)
            g.user = current_user
        appbuilder = current_app.appbuilder
        return render_template("ra_error.html", title=title, message=message, back=back,
                               home=url_for("HomeView.index"), appbuilder=appbuilder,
                               base_template=appbuilder.base_template)
    except Exception:  # noqa: BLE001 — the error page must never fail in its turn
        current_app.logger.exception("错误页面无法按布局显示")
        return (f'<!doctype html><html lang="zh"><meta charset="utf-8"><title>{title}</title>'
                f'<h3>{title}</h3><p>{message}</p><p><a href="/">返回首页</a></p></html>')


def configure_request_scope(app: Flask) -> None:
    """Resolve the user's scope once per request, before any other handler (FAB_NOTES:
    recursion): the user and their region load unscoped, then everything else is
    limited to that region's subtree; no user, or no region, sees nothing."""

    @app.before_request
    def _resolve_scope() -> None:
        from flask_login import current_user

        with unscoped():
            user = current_user if current_user.is_authenticated else None
            if user is None and request.path.startswith("/api/"):
                user = _jwt_user()
            path = user_region_path(user) if user is not None else None
        set_request_scope(path)
        g.ra_user = user


def _jwt_user():
    from flask_jwt_extended import current_user as jwt_user
    from flask_jwt_extended import verify_jwt_in_request

    try:
        verify_jwt_in_request(optional=True)
        return jwt_user or None
    except Exception:
        return None


def configure_cli(app: Flask, plugins: PluginRegistry) -> None:
    from core.bench import bench_command
    from core.cli import register_commands
    from core.jobs_cli import ALL as job_commands
    from core.registry.commands import ALL as registry_commands

    register_commands(app, plugins)
    for command in [*registry_commands, *job_commands, bench_command]:
        app.cli.add_command(command)
