"""``retiree-admin plugins new``: the skeleton it writes is a working plugin whose own
tests pass at once, ruff-clean, on its own migration branch.

The plugin is generated into a temporary package, never into the source tree, and
tested in a separate pytest process that loads it through ``PLUGIN_PACKAGES``: nothing
of it is imported into this process, and no other test run can discover it.
"""
from __future__ import annotations

import ast
import json
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.scaffold import ROOT, generate, plugins_new_command
from core.testing import missing, run

PACKAGE = "ra_scaffold_tmp"


@pytest.fixture
def folder(tmp_path) -> Path:
    """An importable package of plugins outside the source tree."""
    package = tmp_path / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    return package


def test_plugins_new_writes_a_skeleton_that_passes_its_own_tests(folder):
    target = generate("probe_notes", folder, "走访记事")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder.parent), str(ROOT)]),
           "RETIREE_ADMIN_PLUGIN_PACKAGES": json.dumps([PACKAGE]),
           "RETIREE_ADMIN_PLUGINS_BLOCKLIST": "[]"}
    done = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "core.testing", "-p", "no:cacheprovider",
         "-W", "ignore::DeprecationWarning", str(target)],
        cwd=folder.parent, env=env, capture_output=True, text=True, seconds=900,
        waiting_for="the skeleton's own tests")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "5 passed" in done.stdout


def test_skeleton_has_every_part_and_a_branch_of_its_own(folder):
    target = generate("probe_notes", folder, "走访记事")
    for part in ("__init__.py", "models.py", "rules.py", "screens.py", "api_views.py",
                 "commands.py", "README.md", "templates/probe_notes_item_show.html",
                 "tests/__init__.py", "tests/test_probe_notes.py",
                 "migrations/probe_notes_0001_initial.py"):
        assert (target / part).is_file(), part
    tree = ast.parse((target / "migrations/probe_notes_0001_initial.py").read_text("utf-8"))
    values = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
              if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)}
    assert values == {"revision": "probe_notes_0001", "down_revision": None,
                      "branch_labels": ("probe_notes",), "depends_on": ("0001_core",)}
    init = (target / "__init__.py").read_text("utf-8")
    assert f"from {PACKAGE}.probe_notes.screens import ProbeNotesItemView" in init
    assert 'title="走访记事"' in init
    # No submodule is named after a hook (the loader refuses such a plugin).
    from core import hookspecs

    assert not {p.stem for p in target.glob("*.py")} & set(vars(hookspecs))


def test_skeleton_is_ruff_clean(folder):
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        missing("ruff is not installed")
    target = generate("probe_notes", folder, "走访记事")
    done = run([str(ruff), "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"),
                str(target)], capture_output=True, text=True, seconds=120,
               waiting_for="ruff to check the skeleton")
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["Bad-Name"], "插件名称“Bad-Name”无效"),
    (["class"], "插件名称“class”无效"),
    (["x"], "插件名称“x”无效"),
    (["notes", "--title", 'a"b'], "插件标题须为1–40个字符"),
    (["notes", "--dir", "no/such/folder"], "不存在"),
    (["wuzhong_xiangcheng", "--dir", str(ROOT / "districts")], "已存在"),
])
def test_plugins_new_refuses_bad_input_in_chinese(args, message):
    result = CliRunner().invoke(plugins_new_command, args)
    assert result.exit_code == 2
    assert message in result.output


def test_plugins_new_refuses_a_folder_that_is_not_a_package(tmp_path):
    result = CliRunner().invoke(plugins_new_command, ["notes", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "不是Python包" in result.output
    assert list(tmp_path.iterdir()) == []


def test_plugins_new_command_prints_the_next_steps(folder):
    result = CliRunner().invoke(plugins_new_command,
                                ["probe_notes", "--dir", str(folder), "--title", "走访记事"])
    assert result.exit_code == 0, result.output
    assert "已生成插件 probe_notes" in result.output
    assert "retiree-admin plugins enable probe_notes" in result.output
    assert (folder / "probe_notes" / "__init__.py").is_file()


def test_plugins_new_is_a_subcommand_of_plugins(app):
    result = app.test_cli_runner().invoke(args=["plugins", "new", "--help"])
    assert result.exit_code == 0
    assert "--title" in result.output
