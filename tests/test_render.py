"""Tier 1: rendering option sets produces clean, complete projects."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import BASE_ANSWERS, OPTION_SETS, render

# `${{ ... }}` (GitHub Actions expressions), `${#array[@]}` (bash) and `{{ $labels.route }}`
# (Prometheus alert templates, deploy/monitoring/) are not Jinja.
JINJA_LEFTOVER = re.compile(r"(?<!\$)\{\{(?! \$labels\.)|\{%|(?<!\$)\{#|%\}")
VALID_NAME = re.compile(r"^[A-Za-z0-9_.@-]+$")


@pytest.fixture(scope="module", name="rendered")
def _rendered(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {
        name: render(template, tmp_path_factory.mktemp(name) / "project", **answers)
        for name, answers in OPTION_SETS.items()
    }


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_no_unrendered_jinja_anywhere(rendered: dict[str, Path], option_set: str) -> None:
    """No file name or file content keeps a Jinja tag."""
    project = rendered[option_set]
    for path in project.rglob("*"):
        rel = path.relative_to(project)
        assert not JINJA_LEFTOVER.search(str(rel)), rel
        assert not path.name.endswith(".jinja"), rel
        if path.is_file():
            assert not JINJA_LEFTOVER.search(path.read_text(encoding="utf-8")), rel


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_file_names_are_valid(rendered: dict[str, Path], option_set: str) -> None:
    """Every path part is plain, and every Python module name is importable."""
    project = rendered[option_set]
    for path in project.rglob("*"):
        for part in path.relative_to(project).parts:
            assert VALID_NAME.match(part), part
        if path.suffix == ".py":
            assert path.stem.isidentifier(), path


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_answers_file_is_complete(rendered: dict[str, Path], option_set: str) -> None:
    """The answers file records every question with the given answer, plus the template source."""
    answers = yaml.safe_load((rendered[option_set] / ".copier-answers.yml").read_text())
    expected: dict[str, Any] = {**BASE_ANSWERS, **OPTION_SETS[option_set]}
    for key, value in expected.items():
        assert answers[key] == value, key
    assert answers["_src_path"]
    assert answers["_commit"]


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_project_metadata_follows_the_answers(rendered: dict[str, Path], option_set: str) -> None:
    """pyproject.toml, the package directory and the settings reflect the answers."""
    project = rendered[option_set]
    answers = {**BASE_ANSWERS, **OPTION_SETS[option_set]}
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    assert meta["project"]["name"] == answers["project_slug"]
    assert meta["project"]["description"] == answers["description"]
    assert meta["project"]["authors"] == [
        {"name": answers["author_name"], "email": answers["author_email"]}
    ]
    assert meta["project"]["requires-python"] == f">={answers['python_version']}"
    assert meta["tool"]["mypy"]["strict"] is True
    assert meta["tool"]["ruff"]["target-version"] == "py" + answers["python_version"].replace(".", "")
    package = project / "src" / answers["package_name"]
    assert (package / "app.py").is_file()
    assert (package / "py.typed").is_file()
    settings = (package / "settings.py").read_text()
    assert f'ENV_PREFIX = "{answers["package_name"].upper()}_"' in settings
    assert f"default={answers['http_port']}," in settings
    assert (project / ".python-version").read_text().strip() == answers["python_version"]


def test_derived_names_follow_the_project_name(template: Path, tmp_path: Path) -> None:
    """With only a project name given, the slug and package name are derived from it."""
    answers = dict(BASE_ANSWERS)
    for key in ("project_slug", "package_name", "description"):
        answers.pop(key)
    import copier

    copier.run_copy(
        str(template),
        tmp_path / "p",
        data={**answers, "project_name": "Payments Gateway v2"},
        defaults=True,
        unsafe=True,
        skip_tasks=True,
        vcs_ref="HEAD",
        quiet=True,
    )
    saved = yaml.safe_load((tmp_path / "p" / ".copier-answers.yml").read_text())
    assert saved["project_slug"] == "payments-gateway-v2"
    assert saved["package_name"] == "payments_gateway_v2"
    assert (tmp_path / "p" / "src" / "payments_gateway_v2" / "__main__.py").is_file()
