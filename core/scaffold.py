"""``retiree-admin plugins new NAME``: write a working plugin skeleton.

The skeleton is a package with ``PLUGIN`` and hook implementations, a scoped model, a
screen, a REST API, a CLI command, its own Alembic branch (label NAME, after core's
``0001_core``) creating the model's table, a ``templates/`` folder and tests that pass
as generated. The files come from ``core/scaffold_templates`` (``string.Template``:
``$name``, ``${camel}`` …; ``NAME`` in a file name is the plugin's name). How to grow
it: docs/PLUGINS.md.
"""
from __future__ import annotations

import keyword
import re
import shutil
from datetime import datetime
from pathlib import Path
from string import Template

import click
from flask import current_app, has_app_context

TEMPLATES = Path(__file__).parent / "scaffold_templates"
ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"[a-z][a-z0-9_]{1,39}")
# The title is written into Python strings, HTML and Markdown as it is.
TITLE = re.compile(r"[^\"'\\$<>&`\x00-\x1f]{1,40}")


class ScaffoldError(ValueError):
    """A name, title or folder the scaffold refuses, with a Chinese message."""


def package_of(folder: Path) -> str:
    """The dotted package a plugin folder is imported as: its path from the project root
    (``plugins``, ``districts``), else its own name (a folder on ``sys.path``)."""
    folder = folder.resolve()
    try:
        return ".".join(folder.relative_to(ROOT).parts)
    except ValueError:
        return folder.name


def _taken_revisions() -> set[str]:
    """Revision ids of core and of every loaded plugin (when an app is at hand)."""
    dirs = [ROOT / "migrations" / "versions"]
    if has_app_context():
        plugins = current_app.extensions["retiree_admin.plugins"]
        dirs += [Path(d) for _, d in plugins.contributions("migrations_dir") if d]
    pattern = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.M)
    return {m for d in dirs if d.is_dir() for f in d.glob("*.py")
            for m in pattern.findall(f.read_text("utf-8"))}


def check(name: str, folder: Path, title: str) -> None:
    """Refuse a bad name or title, a missing folder, a plugin or revision that exists."""
    if not NAME.fullmatch(name or "") or keyword.iskeyword(name) or "__" in name:
        raise ScaffoldError(f"插件名称“{name}”无效：须为2–40位小写字母、数字或下划线，以字母开头"
                            "（它也是Python包名、表名前缀和迁移分支名）")
    if not TITLE.fullmatch(title or ""):
        raise ScaffoldError("插件标题须为1–40个字符，不含引号、反斜杠、$、<、>、& 和控制字符")
    if not folder.is_dir():
        raise ScaffoldError(f"目录 {folder} 不存在")
    if not (folder / "__init__.py").is_file():
        raise ScaffoldError(f"目录 {folder} 不是Python包（缺少 __init__.py），插件无法被发现")
    if (folder / name).exists():
        raise ScaffoldError(f"{folder / name} 已存在")
    if has_app_context() and name in current_app.extensions["retiree_admin.plugins"].plugins:
        raise ScaffoldError(f"已有名为 {name} 的插件")
    if f"{name}_0001" in _taken_revisions():
        raise ScaffoldError(f"迁移版本号 {name}_0001 已被占用，请换一个插件名称")


def generate(name: str, folder: Path | str = "plugins", title: str | None = None) -> Path:
    """Write the skeleton of plugin ``name`` into ``folder``; returns its path."""
    folder = Path(folder)
    title = name if title is None else title.strip()
    check(name, folder, title)
    target = folder / name
    values = {
        "name": name,
        "title": title,
        "camel": "".join(part.capitalize() for part in name.split("_")),
        "package": package_of(folder),
        "folder": folder.as_posix(),
        "route": name.replace("_", "-") + "-item",
        "cli": name.replace("_", "-"),
        "revision": f"{name}_0001",
        "created": datetime.now().isoformat(sep=" ", timespec="seconds"),
    }
    try:
        for source in sorted(TEMPLATES.rglob("*.tmpl")):
            relative = source.relative_to(TEMPLATES).with_suffix("")
            path = target / Path(*(part.replace("NAME", name) for part in relative.parts))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(Template(source.read_text("utf-8")).substitute(values), "utf-8")
    except Exception:
        shutil.rmtree(target, ignore_errors=True)  # nothing half-written stays behind
        raise
    return target


@click.command("new")
@click.argument("name")
@click.option("--dir", "folder", default="plugins", show_default=True,
              help="插件所在的包目录（plugins 或 districts，或 PLUGIN_PACKAGES 中的其他包）")
@click.option("--title", default=None, help="插件的中文标题（默认用名称）")
def plugins_new_command(name, folder, title):
    """生成一个可运行的插件骨架：钩子实现、模型、界面、API、迁移分支和测试。"""
    from core.cli import fail

    try:
        target = generate(name, folder, title)
    except ScaffoldError as exc:
        fail(str(exc))
    click.echo(f"已生成插件 {name}：{target}")
    click.echo(f"  运行其测试：pytest {target.as_posix()}")
    click.echo("  建表：retiree-admin db upgrade heads（或 retiree-admin init）")
    click.echo(f"  启用：retiree-admin plugins enable {name} --region <区或市的代码>")
    package = package_of(Path(folder))
    if has_app_context() and package not in current_app.config["PLUGIN_PACKAGES"]:
        click.echo(f"  注意：{package} 不在 PLUGIN_PACKAGES 中，插件不会被加载")
