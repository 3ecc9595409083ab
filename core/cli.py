"""The ``retiree-admin`` command line.

Bad arguments and refused input end with a Chinese message and a non-zero exit code,
never a traceback. The CLI acts as the system operator: it is not region-scoped.
"""
from __future__ import annotations

import os
import sys

import click
from flask.cli import FlaskGroup, ScriptInfo, routes_command, shell_command

from core.errors import RuleViolation, RuleViolations


def _create_app(*_args, **_kwargs):
    from core.app import create_app

    return create_app()


def fail(message: str, code: int = 2):
    click.secho(f"错误：{message}", fg="red", err=True)
    sys.exit(code)


def register_commands(app, plugins) -> None:
    from core import commands

    for command in commands.ALL:
        app.cli.add_command(command)
    for _name, command in plugins.contributions("cli_commands"):
        app.cli.add_command(command)


cli = FlaskGroup(create_app=_create_app, add_default_commands=False, load_dotenv=False,
                 set_debug_flag=False, help="企业退休人员社会化管理服务系统 命令行")
cli.add_command(shell_command)
cli.add_command(routes_command)


def main() -> None:
    try:
        cli.main(prog_name="retiree-admin", standalone_mode=True,
                 obj=ScriptInfo(create_app=_create_app, set_debug_flag=False,
                                load_dotenv_defaults=False))
    except (RuleViolation, RuleViolations) as exc:
        fail(str(exc))
    except Exception as exc:  # a last line: no traceback for an operator
        if os.environ.get("RETIREE_ADMIN_TRACEBACK"):
            raise
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
        fail(f"{type(exc).__name__}: {detail}", 1)
