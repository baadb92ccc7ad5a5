"""Tier 4: `copier update` from earlier template versions keeps every edit the owner made.

The versions come from CHANGELOG.md: each released version names the commit of this repository
it was cut from, and the test rebuilds the template as of that commit (``git archive``) in a
temporary repository with its own PEP 440 tags, so no tag is needed in the checkout. The
newest entry is the working tree (HEAD plus, locally, uncommitted changes).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from conftest import (
    BASE_ANSWERS,
    GENERATED_PYTEST,
    OPTION_SETS,
    REPO,
    clean_env,
    run,
    uv_bin,
)

pytestmark = [pytest.mark.slow, pytest.mark.update]

TEMPLATE_PATHS = ("copier.yml", "extensions", "template")
RELEASE = re.compile(
    r"^## (?P<version>\d+\.\d+\.\d+)(?: \(commit `(?P<commit>[0-9a-f]{7,40})`\))?",
    re.MULTILINE,
)

# Earlier versions updated from: the first release, the first with ci_provider, the last one
# (the first with database and redis).
UPDATE_FROM = ("0.1.0", "0.3.0", "0.6.0")
UPDATE_SETS = ("default", "py311-billing")
# The updated projects that also run their whole suite (the rest get the lighter checks).
FULL_SUITE = {("0.1.0", "default"), ("0.3.0", "py311-billing")}

GIT = [
    "git",
    "-c",
    "user.name=Owner",
    "-c",
    "user.email=owner@example.com",
    "-c",
    "commit.gpgsign=false",
]
# The template's own environment has pre-commit and pre-commit-hooks (dev dependencies), so
# the projects that are not synced run their hook with it (UV_PROJECT_ENVIRONMENT).
TEMPLATE_ENV = str(Path(sys.executable).parent.parent)

OWNER_PARAGRAPH = (
    "Owned by the Orders team (#orders-oncall). Takes orders from the web shop and hands them\n"
    "to fulfilment; see the runbook in the team wiki before changing timeouts."
)
REPORT_ROUTER = '''"""Daily order report: a router the service owner added."""

from fastapi import APIRouter

router = APIRouter(prefix="/report", tags=["report"])


@router.get("")
async def daily_report() -> dict[str, int]:
    """The number of orders taken today (a fixed figure in this example)."""
    return {"orders_today": 42}
'''
REPORT_TEST = '''"""The report router the owner added is served."""

from fastapi.testclient import TestClient


def test_daily_report_is_served(client: TestClient) -> None:
    """GET /report answers 200 with today's order count."""
    response = client.get("/report")
    assert response.status_code == 200
    assert response.json() == {"orders_today": 42}
'''
OWNER_FLAG = {
    "state": "DISABLED",
    "variants": {"on": True, "off": False},
    "defaultVariant": "off",
}


def releases() -> list[tuple[str, str | None]]:
    """(version, commit) from CHANGELOG.md, oldest first; the newest has no commit: the working tree."""
    found = [
        (m["version"], m["commit"])
        for m in RELEASE.finditer((REPO / "CHANGELOG.md").read_text())
    ]
    assert found and found[0][1] is None, (
        "CHANGELOG.md must start with the unreleased/newest version"
    )
    assert all(commit for _, commit in found[1:]), (
        "every older version must name its commit"
    )
    return list(reversed(found))


def answers(option_set: str) -> dict[str, Any]:
    return {**BASE_ANSWERS, **OPTION_SETS[option_set]}


def git(project: Path, *args: str) -> str:
    return run([*GIT, *args], project).stdout


def commit_all(project: Path, message: str) -> None:
    git(project, "add", "-A")
    git(project, "commit", "-qm", message)


@pytest.fixture(scope="session", name="versions")
def _versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A template repository holding every CHANGELOG version as a tag; returns it and the newest."""
    repo = tmp_path_factory.mktemp("versions") / "shipshape"
    return repo, build_versions(repo)


def build_versions(repo: Path) -> str:
    """Create ``repo`` with one commit and PEP 440 tag per CHANGELOG version; return the newest."""
    repo.mkdir()
    git(repo, "init", "-q")
    for version, commit in releases():
        for path in TEMPLATE_PATHS:
            shutil.rmtree(repo / path, ignore_errors=True)
            (repo / path).unlink(missing_ok=True)
        if commit:
            archive = subprocess.run(
                ["git", "archive", "--format=tar", commit, *TEMPLATE_PATHS],
                cwd=REPO,
                capture_output=True,
                check=False,
            )
            assert archive.returncode == 0, (
                f"commit {commit} of version {version} is not in this clone (a shallow clone? "
                f"'git fetch --unshallow'): {archive.stderr.decode()}"
            )
            with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
                tar.extractall(repo, filter="tar")
        else:
            shutil.copy2(REPO / "copier.yml", repo / "copier.yml")
            for path in ("extensions", "template"):
                shutil.copytree(
                    REPO / path,
                    repo / path,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )
        commit_all(repo, f"template {version}")
        git(repo, "tag", version)
    return releases()[-1][0]


def render_at(
    repo: Path, version: str, dst: Path, option_set: str, **overrides: Any
) -> Path:
    """The project as generated by template ``version``, committed."""
    copier.run_copy(
        str(repo),
        dst,
        data={**answers(option_set), **overrides},
        defaults=True,
        unsafe=True,
        skip_tasks=True,
        vcs_ref=version,
        quiet=True,
    )
    git(dst, "init", "-q")
    commit_all(dst, f"generated from template {version}")
    return dst


def package_dir(project: Path, option_set: str) -> Path:
    return project / "src" / answers(option_set)["package_name"]


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name}: expected one {old!r}"
    path.write_text(text.replace(old, new))


def make_owner_edits(project: Path, option_set: str) -> None:
    """Months of the owner's work: a router, a setting default, a dependency, README text, a tuned line."""
    pkg = package_dir(project, option_set)
    (pkg / "api" / "report.py").write_text(REPORT_ROUTER)
    (project / "tests" / "test_report.py").write_text(REPORT_TEST)
    app = (pkg / "app.py").read_text()
    imports = re.search(r"^from \.api import (.+)$", app, re.MULTILINE)
    assert imports
    names = sorted({*imports[1].split(", "), "report"})
    app = app.replace(imports[0], f"from .api import {', '.join(names)}")
    app = app.replace(
        "    app.include_router(items.router)\n",
        "    app.include_router(items.router)\n    app.include_router(report.router)\n",
    )
    (pkg / "app.py").write_text(app)
    settings = pkg / "settings.py"
    # A changed default on a line the template leaves alone...
    replace_once(
        settings,
        'default=10, ge=1, description="Seconds to let in-flight',
        'default=20, ge=1, description="Seconds to let in-flight',
    )
    # ...and one on a line the template changes later (the conflict).
    replace_once(
        settings,
        'default=2.0, gt=0, description="Default timeout of each readiness',
        'default=3.0, gt=0, description="Default timeout of each readiness',
    )
    replace_once(
        project / "pyproject.toml",
        '    "pydantic-settings>=2.6",\n',
        '    "pydantic-settings>=2.6",\n    "anyio>=4.4",\n',
    )
    readme = project / "README.md"
    old_paragraph = re.search(
        r"^Generated from the Shipshape service template\..*?tests\.$",
        readme.read_text(),
        re.MULTILINE | re.DOTALL,
    )
    assert old_paragraph
    replace_once(readme, old_paragraph[0], OWNER_PARAGRAPH)
    flags = project / "flags" / "flags.json"
    if flags.exists():
        definitions = json.loads(flags.read_text())
        definitions["flags"]["orders-new-checkout"] = OWNER_FLAG
        flags.write_text(json.dumps(definitions, indent=2) + "\n")
    # Not committed: the owner's local .env (git-ignored) under the setting's pre-0.7.0 name.
    prefix = answers(option_set)["package_name"].upper() + "_"
    (project / ".env").write_text(
        f"# local overrides\nexport {prefix}READINESS_TIMEOUT=4\n"
    )
    commit_all(project, "owner's edits")


def update(project: Path, version: str, conflict: str = "inline", **data: Any) -> None:
    copier.run_update(
        project,
        data=data,
        defaults=True,
        unsafe=True,
        overwrite=True,
        skip_tasks=True,
        vcs_ref=version,
        conflict=conflict,
        quiet=True,
    )


def files_with_markers(project: Path) -> set[str]:
    """Files (tracked or new) holding a conflict marker line."""
    found = subprocess.run(
        [
            "git",
            "grep",
            "--untracked",
            "-l",
            "-I",
            "-e",
            "^<<<<<<< ",
            "-e",
            "^>>>>>>> ",
            "--",
            ".",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode in (0, 1), found.stderr
    return set(found.stdout.splitlines())


def pre_commit(project: Path) -> subprocess.CompletedProcess[str]:
    """The project's own check-merge-conflict hook (tools from the template's environment)."""
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("pre-commit")),
            "run",
            "check-merge-conflict",
            "--all-files",
        ],
        cwd=project,
        env=clean_env(
            UV_PROJECT_ENVIRONMENT=TEMPLATE_ENV,
            PRE_COMMIT_HOME=str(project.parent / "pre-commit-home"),
        ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def resolve_readiness_conflict(settings: Path) -> None:
    """Take the template's side of the conflict and put the owner's 3.0 back into it."""
    text = settings.read_text()
    blocks = list(CONFLICT.finditer(text))
    assert len(blocks) == 1, (
        f"expected one conflict block in settings.py, found {len(blocks)}"
    )
    (block,) = blocks
    assert "default=3.0" in block["ours"]
    assert "default=2.0," in block["theirs"]
    assert "readiness_check_timeout" in text
    settings.write_text(
        text.replace(
            block[0], block["theirs"].replace("default=2.0,", "default=3.0,", 1)
        )
    )


CONFLICT = re.compile(
    r"^<<<<<<< before updating\n(?P<ours>.*?)^=======\n(?P<theirs>.*?)^>>>>>>> after updating\n",
    re.MULTILINE | re.DOTALL,
)


def resolve_app_conflict(block: re.Match[str]) -> str:
    """Keep the template's side and add the owner's report router to it, as the owner would."""
    theirs = block["theirs"]
    ours_imports = re.search(r"^from \.api import (.+)$", block["ours"], re.MULTILINE)
    theirs_imports = re.search(r"^from \.api import (.+)$", theirs, re.MULTILINE)
    if ours_imports and theirs_imports:
        names = sorted({*ours_imports[1].split(", "), *theirs_imports[1].split(", ")})
        theirs = theirs.replace(
            theirs_imports[0], f"from .api import {', '.join(names)}"
        )
    mine = [
        line
        for line in block["ours"].splitlines(keepends=True)
        if "report.router" in line
    ]
    return "".join(mine) + theirs


def resolve_conflicts(project: Path, option_set: str) -> None:
    """Resolve the update's conflicts the way the owner would (both sides' intent kept)."""
    pkg = package_dir(project, option_set)
    app = pkg / "app.py"
    app.write_text(CONFLICT.sub(resolve_app_conflict, app.read_text()))
    resolve_readiness_conflict(pkg / "settings.py")


def text_of(path: Path) -> str:
    """A file's text plus its rejected hunks (``--conflict rej``), where an edit may also be kept."""
    rej = path.with_name(path.name + ".rej")
    return path.read_text() + (rej.read_text() if rej.exists() else "")


def check_owner_edits_kept(
    project: Path, option_set: str, had_flags: str | None
) -> None:
    pkg = package_dir(project, option_set)
    assert (pkg / "api" / "report.py").read_text() == REPORT_ROUTER
    assert (project / "tests" / "test_report.py").read_text() == REPORT_TEST
    app = text_of(pkg / "app.py")
    assert "app.include_router(report.router)" in app
    assert re.search(r"^from \.api import .*\breport\b", app, re.MULTILINE)
    assert 'default=20, ge=1, description="Seconds to let in-flight' in text_of(
        pkg / "settings.py"
    )
    assert '"anyio>=4.4",' in text_of(project / "pyproject.toml")
    readme = text_of(project / "README.md")
    assert OWNER_PARAGRAPH in readme
    assert "Generated from the Shipshape service template." not in readme
    if had_flags is not None:  # user-owned: never overwritten (_skip_if_exists)
        assert (project / "flags" / "flags.json").read_text() == had_flags
    else:
        assert (
            "orders-new-checkout" not in (project / "flags" / "flags.json").read_text()
        )


@pytest.fixture(scope="module", name="updated")
def _updated(
    versions: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], Path]:
    """Every (version, option set): rendered at that version, edited, committed, updated inline."""
    repo, newest = versions
    projects = {}
    for version in UPDATE_FROM:
        for option_set in UPDATE_SETS:
            project = render_at(
                repo,
                version,
                tmp_path_factory.mktemp(f"{version}-{option_set}") / "svc",
                option_set,
            )
            make_owner_edits(project, option_set)
            flags = project / "flags" / "flags.json"
            if (
                flags.exists()
            ):  # kept to compare: the update must not touch the owner's flags
                (project.parent / "flags-before").write_text(flags.read_text())
            update(
                project,
                newest,
                **answers(option_set),  # new questions answered as the option set says
            )
            projects[(version, option_set)] = project
    return projects


CASES = [(v, s) for v in UPDATE_FROM for s in UPDATE_SETS]
# Template-managed files of the fleet tooling (Renovate, SLOs and alerts, catalog, dev container).
FLEET_FILES = (
    "renovate.json",
    "catalog-info.yaml",
    ".devcontainer/devcontainer.json",
    ".devcontainer/compose.yaml",
    "deploy/monitoring/slo-rules.yml",
    "deploy/monitoring/slo-rules.test.yml",
    "deploy/monitoring/dashboard.json",
    "deploy/k8s/prometheusrule.yaml",
)


@pytest.mark.parametrize(("version", "option_set"), CASES)
def test_update_keeps_every_owner_edit(
    updated: dict[tuple[str, str], Path], version: str, option_set: str
) -> None:
    """After the update every edit is there, the version moved, and the .env was migrated."""
    project = updated[(version, option_set)]
    before = project.parent / "flags-before"
    check_owner_edits_kept(
        project, option_set, before.read_text() if before.exists() else None
    )
    saved = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert saved["_commit"] == releases()[-1][0]
    assert {k: saved[k] for k in answers(option_set)} == answers(option_set)
    prefix = answers(option_set)["package_name"].upper() + "_"
    assert (
        project / ".env"
    ).read_text() == f"# local overrides\nexport {prefix}READINESS_CHECK_TIMEOUT=4\n"
    assert (project / ".pre-commit-config.yaml").is_file()
    for path in FLEET_FILES:  # added in 0.8.0: they arrive with the update
        assert (project / path).is_file(), (
            f"{path} did not arrive with the update from {version}"
        )
    assert (
        "prometheusrule.yaml"
        in yaml.safe_load(
            (project / "deploy" / "k8s" / "kustomization.yaml").read_text()
        )["resources"]
    )


@pytest.mark.parametrize(("version", "option_set"), CASES)
def test_only_the_conflicting_line_is_marked_and_pre_commit_refuses_it(
    updated: dict[tuple[str, str], Path], version: str, option_set: str
) -> None:
    """Markers only in files the owner edited (settings.py always); the hook refuses them until resolved."""
    project = updated[(version, option_set)]
    settings = package_dir(project, option_set) / "settings.py"
    app = package_dir(project, option_set) / "app.py"
    marked = files_with_markers(project)
    # settings.py: the owner's line the template changed. app.py: the owner's router lines sit
    # where older versions' routers and middleware changed (from 0.1.0 and 0.3.0).
    assert str(settings.relative_to(project)) in marked
    assert marked <= {str(settings.relative_to(project)), str(app.relative_to(project))}
    assert not list(project.rglob("*.rej"))
    git(
        project, "add", "-A"
    )  # the owner thinks they are done: the hook must still refuse
    refused = pre_commit(project)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"{settings.relative_to(project)}:" in refused.stdout
    assert "Merge conflict string" in refused.stdout
    installed = (version, option_set) in FULL_SUITE
    if installed:  # the project's own environment, and the hook installed in git
        run([uv_bin(), "sync", "--quiet"], project)
        run(
            [uv_bin(), "run", "--no-sync", "pre-commit", "install"],
            project,
            PRE_COMMIT_HOME=str(project.parent / "pch"),
        )
        commit = git_commit(project)
        assert commit.returncode != 0
        assert "Merge conflict string" in commit.stdout + commit.stderr
    resolve_conflicts(project, option_set)
    git(project, "add", "-A")
    passed = pre_commit(project)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert not files_with_markers(project)
    if installed:  # now the commit goes through, past the ruff hooks too
        commit = git_commit(project)
        assert commit.returncode == 0, commit.stdout + commit.stderr


def git_commit(project: Path) -> subprocess.CompletedProcess[str]:
    """``git commit`` as the owner runs it, with the project's pre-commit hook (if installed)."""
    return subprocess.run(
        [*GIT, "commit", "-qm", "Update from the template"],
        cwd=project,
        env=clean_env(PRE_COMMIT_HOME=str(project.parent / "pch")),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(("version", "option_set"), sorted(FULL_SUITE))
def test_resolved_update_passes_its_own_suite(
    updated: dict[tuple[str, str], Path], version: str, option_set: str
) -> None:
    """Once the conflict is resolved the updated project passes ruff, mypy --strict and pytest."""
    project = updated[(version, option_set)]
    settings = package_dir(project, option_set) / "settings.py"
    if files_with_markers(project):
        resolve_conflicts(project, option_set)
    assert "default=3.0," in settings.read_text()
    full_suite(project)


def full_suite(project: Path) -> None:
    run([uv_bin(), "sync", "--quiet"], project)
    run([uv_bin(), "run", "--no-sync", "ruff", "check", "."], project)
    run([uv_bin(), "run", "--no-sync", "ruff", "format", "--check", "."], project)
    run([uv_bin(), "run", "--no-sync", "mypy", "--strict"], project)
    result = run([uv_bin(), "run", "--no-sync", *GENERATED_PYTEST], project)
    assert " passed" in result.stdout and " failed" not in result.stdout


def answer_changes() -> tuple[dict[str, Any], dict[str, Any]]:
    """(answers at the previous release, answers changed on update): ci_provider flipped, and each
    optional backing service (database, later broker) switched on from none, all in one update."""
    questions = yaml.safe_load((REPO / "copier.yml").read_text())
    before: dict[str, Any] = {}
    change: dict[str, Any] = {"ci_provider": "gitlab"}
    for name in ("database", "broker"):
        question = questions.get(name)
        if isinstance(question, dict) and "none" in (question.get("choices") or ()):
            choices = question["choices"]
            values = (
                list(choices.values()) if isinstance(choices, dict) else list(choices)
            )
            before[name] = "none"
            change[name] = next(v for v in values if v != "none")
    return before, change


def test_changing_answers_on_update_gives_a_passing_project(
    versions: tuple[Path, str], tmp_path: Path
) -> None:
    """Updating from the previous release with changed answers (CI, stores on) gives a passing project."""
    repo, newest = versions
    before, change = answer_changes()
    assert "database" in change, "the database question is expected since 0.6.0"
    project = render_at(repo, UPDATE_FROM[-1], tmp_path / "svc", "default", **before)
    update(project, newest, **change)
    assert not files_with_markers(project)
    assert not list(project.rglob("*.rej"))
    saved = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert {k: saved[k] for k in change} == change
    assert (project / ".gitlab-ci.yml").is_file()
    assert not (project / ".github").exists()
    full_suite(project)


def test_conflict_rej_loses_nothing(versions: tuple[Path, str], tmp_path: Path) -> None:
    """With --conflict rej the edits are merged or kept in a .rej file beside the file, never dropped."""
    repo, newest = versions
    project = render_at(repo, UPDATE_FROM[-1], tmp_path / "svc", "default")
    make_owner_edits(project, "default")
    flags_before = (project / "flags" / "flags.json").read_text()
    update(project, newest, conflict="rej")
    check_owner_edits_kept(project, "default", flags_before)
    assert not files_with_markers(project)
    settings = package_dir(project, "default") / "settings.py"
    rejected = {path.relative_to(project) for path in project.rglob("*.rej")}
    # settings.py: the conflicting line; pyproject.toml: the dependency hunk's context moved.
    assert settings.with_name("settings.py.rej").relative_to(project) in rejected
    assert rejected <= {
        settings.with_name("settings.py.rej").relative_to(project),
        Path("pyproject.toml.rej"),
        settings.with_name("app.py.rej").relative_to(project),
    }
    assert (
        "+        default=3.0, gt=0"
        in settings.with_name("settings.py.rej").read_text()
    )


def test_check_update_reports_a_newer_version(
    versions: tuple[Path, str], tmp_path: Path
) -> None:
    """scripts/check-template-update exits 0 while current and 1 once the template has a newer tag."""
    repo, newest = versions
    clone = tmp_path / "template"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    project = render_at(clone, newest, tmp_path / "svc", "default")
    copier_cmd = str(Path(sys.executable).with_name("copier"))

    def check_update() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["scripts/check-template-update"],
            cwd=project,
            env={**clean_env(), "COPIER": copier_cmd},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    current = check_update()
    assert current.returncode == 0, current.stdout + current.stderr
    assert "up to date" in current.stdout
    (clone / "CHANGES").write_text("a later release\n")
    commit_all(clone, "later")
    git(clone, "tag", "99.0.0")
    behind = check_update()
    assert behind.returncode == 1, behind.stdout + behind.stderr
    assert '"latest_version": "99.0.0"' in behind.stdout


def test_ci_runs_the_update_check_on_a_schedule(
    versions: tuple[Path, str], tmp_path: Path
) -> None:
    """GitHub: a scheduled least-privilege workflow; GitLab: a schedule-only job, and no deploy on a schedule."""
    repo, newest = versions
    github = render_at(repo, newest, tmp_path / "gh", "default")
    workflow = yaml.safe_load(
        (github / ".github" / "workflows" / "template-update.yml").read_text()
    )
    assert workflow[True]["schedule"]  # "on" parses as True in YAML 1.1
    assert workflow["permissions"] == {}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    assert job["timeout-minutes"] <= 10
    assert job["steps"][-1]["run"] == "scripts/check-template-update"
    gitlab = render_at(repo, newest, tmp_path / "gl", "py311-billing")
    pipeline = yaml.safe_load((gitlab / ".gitlab-ci.yml").read_text())
    assert pipeline["template-update"]["rules"] == [
        {"if": '$CI_PIPELINE_SOURCE == "schedule"'}
    ]
    assert pipeline["template-update"]["script"] == ["scripts/check-template-update"]
    for name in ("deploy", "record-deployment"):
        assert '$CI_PIPELINE_SOURCE != "schedule"' in pipeline[name]["rules"][0]["if"]
    assert pipeline[".not-scheduled"]["rules"][0]["when"] == "never"


def _migration_command(prefix: str) -> str:
    (migration,) = [
        m
        for m in yaml.safe_load((REPO / "copier.yml").read_text())["_migrations"]
        if m["version"] == "0.7.0"
    ]
    return str(migration["command"]).replace("{{ env_prefix }}", prefix)


def test_env_migration_is_idempotent(tmp_path: Path) -> None:
    """Running the 0.7.0 .env migration twice gives what running it once gives; no .env is left alone."""
    command = _migration_command("ORDERS_SERVICE_")
    run(["sh", "-c", command], tmp_path)  # no .env: nothing happens, no error
    assert not (tmp_path / ".env").exists()
    env = tmp_path / ".env"
    env.write_text(
        "ORDERS_SERVICE_READINESS_TIMEOUT=4\nOTHER_READINESS_TIMEOUT=1\n# ORDERS_SERVICE_READINESS_TIMEOUT=9\n"
    )
    run(["sh", "-c", command], tmp_path)
    once = env.read_text()
    assert (
        once
        == "ORDERS_SERVICE_READINESS_CHECK_TIMEOUT=4\nOTHER_READINESS_TIMEOUT=1\n# ORDERS_SERVICE_READINESS_TIMEOUT=9\n"
    )
    run(["sh", "-c", command], tmp_path)
    assert env.read_text() == once


def test_migration_runs_only_when_crossing_its_version(
    versions: tuple[Path, str], tmp_path: Path
) -> None:
    """Updating from 0.7.0 or later to a newer version leaves .env alone (the migration is version-gated)."""
    repo, newest = versions
    clone = tmp_path / "template"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    project = render_at(clone, newest, tmp_path / "svc", "default")
    (project / ".env").write_text("ORDERS_SERVICE_READINESS_TIMEOUT=4\n")
    (clone / "CHANGES").write_text("a later release\n")
    commit_all(clone, "later")
    git(clone, "tag", "99.0.0")
    update(project, "99.0.0")
    assert (
        yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"]
        == "99.0.0"
    )
    assert (project / ".env").read_text() == "ORDERS_SERVICE_READINESS_TIMEOUT=4\n"


def test_update_from_the_previous_release_keeps_an_included_router(
    versions: tuple[Path, str], tmp_path: Path
) -> None:
    """From the release before this one (add_routes era), an owner's included router survives and the suite passes."""
    repo, newest = versions
    previous = releases()[-2][0]
    project = render_at(repo, previous, tmp_path / "svc", "default")
    pkg = package_dir(project, "default")
    (pkg / "api" / "report.py").write_text(REPORT_ROUTER)
    (project / "tests" / "test_report.py").write_text(REPORT_TEST)
    app = pkg / "app.py"
    text = app.read_text()
    imports = re.search(r"^from \.api import (.+)$", text, re.MULTILINE)
    assert imports
    names = sorted({*imports[1].split(", "), "report"})
    text = text.replace(imports[0], f"from .api import {', '.join(names)}")
    anchor = "        add_routes(app, router)\n"
    assert text.count(anchor) == 1, (
        "the previous release registers its routers in one loop"
    )
    app.write_text(
        text.replace(anchor, anchor + "    app.include_router(report.router)\n")
    )
    commit_all(project, "owner's router")
    update(project, newest)
    assert files_with_markers(project) <= {str(app.relative_to(project))}
    app.write_text(CONFLICT.sub(resolve_app_conflict, app.read_text()))
    assert not files_with_markers(project)
    updated = app.read_text()
    assert "app.include_router(report.router)" in updated
    assert (
        "        add_routes(app, router)\n" not in updated
    )  # the loop went with the update
    full_suite(project)
