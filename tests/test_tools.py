"""Tier 1: the validators the artifact tier runs come from the template's own dev
dependencies, so ``scripts/test`` needs nothing installed by hand (no apt shellcheck)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from test_artifacts import tool

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["shellcheck", "hadolint", "check-jsonschema"])
def test_validator_is_found_without_system_tools_on_path(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With a PATH lacking /usr/bin and /usr/local/bin, the lookup the tests use still finds the tool."""
    monkeypatch.setenv("PATH", str(tmp_path))
    found = tool(name)
    assert not found.startswith(("/usr/bin/", "/usr/local/bin/", "/bin/"))
    result = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_template_scripts_pass_the_dev_dependency_shellcheck(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The venv's shellcheck lints this repository's own scripts with no system shellcheck on PATH."""
    monkeypatch.setenv("PATH", str(tmp_path))
    candidates = [*sorted((REPO / "scripts").iterdir()), REPO / ".ci" / "run"]
    scripts = [str(p) for p in candidates if p.is_file() and p.read_text().startswith(("#!/usr/bin/env bash", "# shellcheck"))]
    assert len(scripts) >= 4, scripts  # _uv.sh, quickstart, test and .ci/run at least
    result = subprocess.run(
        [tool("shellcheck"), "-x", "--source-path=SCRIPTDIR", *scripts], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
