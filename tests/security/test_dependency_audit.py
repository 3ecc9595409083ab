"""Issue #12 item 18: the dependency audit (``.ci/audit-deps``) fails loudly when it could
not audit — a package skipped ("Dependency not found on PyPI and could not be audited"),
a package missing from the report, the advisory service out of reach — and prints
success only when every package of requirements.lock was checked. Judged on pip-audit
JSON reports written here, and on a real pip-audit run (no advisory service is reachable
from this machine, so the real run must fail)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".ci" / "audit-deps"
SKIPPED = "Dependency not found on PyPI and could not be audited: {name} ({version})"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                          text=True, check=False, cwd=ROOT)


@pytest.fixture
def lock(tmp_path) -> Path:
    path = tmp_path / "requirements.lock"
    path.write_text("# pinned\nFlask-AppBuilder==5.3.0\nopenpyxl==3.1.5\npip_audit==2.10.1\n",
                    encoding="utf-8")
    return path


def judged(tmp_path, lock, dependencies) -> subprocess.CompletedProcess:
    report = tmp_path / "audit.json"
    report.write_text(json.dumps({"dependencies": dependencies, "fixes": []}), encoding="utf-8")
    return run("-r", str(lock), "--report", str(report))


def checked(name, version="1.0", vulns=()):
    return {"name": name, "version": version, "vulns": list(vulns)}


def test_every_package_checked_and_clean_passes(tmp_path, lock):
    done = judged(tmp_path, lock, [checked("flask-appbuilder"), checked("openpyxl"),
                                   checked("pip-audit")])
    assert done.returncode == 0, done.stderr
    assert "已审计全部 3 个包，未发现已知漏洞" in done.stdout


def test_an_audit_that_skipped_every_package_fails_loudly(tmp_path, lock):
    """The run of the issue: all packages "not found", pip-audit itself exits 0."""
    done = judged(tmp_path, lock, [
        {"name": n, "skip_reason": SKIPPED.format(name=n, version="1.0")}
        for n in ("flask-appbuilder", "openpyxl", "pip-audit")])
    assert done.returncode == 2
    assert "依赖审计未完成" in done.stderr and "3 个未能审计" in done.stderr
    assert "未发现已知漏洞" not in done.stdout + done.stderr


def test_one_skipped_package_is_enough_to_fail(tmp_path, lock):
    done = judged(tmp_path, lock, [
        checked("flask-appbuilder"), checked("pip-audit"),
        {"name": "openpyxl", "skip_reason": SKIPPED.format(name="openpyxl", version="3.1.5")}])
    assert done.returncode == 2 and "未审计：openpyxl" in done.stderr


def test_a_package_missing_from_the_report_fails(tmp_path, lock):
    done = judged(tmp_path, lock, [checked("flask-appbuilder"), checked("pip-audit")])
    assert done.returncode == 2 and "报告中缺少：openpyxl" in done.stderr


@pytest.mark.parametrize("content", ['{"dependencies": []}', "not json", '["x"]'])
def test_an_empty_or_broken_report_fails(tmp_path, lock, content):
    report = tmp_path / "audit.json"
    report.write_text(content, encoding="utf-8")
    done = run("-r", str(lock), "--report", str(report))
    assert done.returncode == 2 and "依赖审计失败" in done.stderr


def test_known_vulnerabilities_fail_with_their_fixes(tmp_path, lock):
    done = judged(tmp_path, lock, [
        checked("flask-appbuilder", "4.5.0", [{"id": "GHSA-xxxx", "fix_versions": ["4.5.1"],
                                               "aliases": ["CVE-2024-45314"]}]),
        checked("openpyxl"), checked("pip-audit")])
    assert done.returncode == 1
    assert "GHSA-xxxx" in done.stderr and "4.5.1" in done.stderr


def test_the_real_pip_audit_here_fails_loudly():
    """No advisory service is reachable from this machine: pip-audit skips every package
    of the project's lock file (and says "No known vulnerabilities found"); the audit
    step must not."""
    done = run()
    assert done.returncode == 2, done.stdout + done.stderr
    assert "依赖审计" in done.stderr and "未发现已知漏洞" not in done.stdout


def test_the_real_pip_audit_against_osv_fails_loudly():
    """The OSV service out of reach: pip-audit writes no report at all."""
    done = run("--", "-s", "osv")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "依赖审计失败" in done.stderr or "依赖审计未完成" in done.stderr
