"""Tier 1: every validator refuses bad answers with a message that says what is allowed."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from conftest import BASE_ANSWERS, REPO, render
from jinja2_ansible_filters import AnsibleCoreFiltersExtension

BAD_ANSWERS: list[tuple[str, Any, str]] = [
    ("project_name", "", "2-64 letters, digits, spaces, ._-"),
    ("project_name", "9 Lives", "Start with a letter"),
    ("project_name", "Orders/Service", "2-64 letters, digits, spaces, ._-"),
    ("project_name", "x" * 65, "2-64 letters, digits, spaces, ._-"),
    ("project_slug", "Orders-Service", "lowercase words joined by one '-'"),
    ("project_slug", "orders--service", "lowercase words joined by one '-'"),
    ("project_slug", "-orders", "starting with a letter"),
    ("project_slug", "orders_service", "lowercase words joined by one '-'"),
    ("package_name", "Orders", "must be a lowercase identifier"),
    ("package_name", "9orders", "not starting with a digit"),
    ("package_name", "orders-service", "must be a lowercase identifier"),
    ("package_name", "class", "'class' is a Python keyword"),
    ("package_name", "match", "'match' is a Python keyword"),
    ("package_name", "logging", "shadows a standard-library module"),
    ("package_name", "test", "shadows a standard-library module"),
    ("package_name", "asyncio", "shadows a standard-library module"),
    ("package_name", "fastapi", "shadows a dependency module"),
    ("package_name", "structlog", "shadows a dependency module"),
    ("package_name", "pydantic", "'pydantic' is taken there"),
    ("description", "two\nlines", "one line, 1-200 characters"),
    ("description", "   ", "one line, 1-200 characters"),
    ("author_name", 'The "A" Team', "no double quotes or backslashes"),
    ("author_name", "back\\slash", "no double quotes or backslashes"),
    ("author_name", "", "one line, 1-100 characters"),
    ("author_email", "not-an-email", "must look like name@example.com"),
    ("author_email", "a@b", "a domain with at least one dot"),
    ("author_email", "two@@example.com", "must look like name@example.com"),
    ("author_email", "space in@example.com", "must look like name@example.com"),
    ("http_port", 80, "a whole number from 1024 to 65535"),
    ("http_port", 1023, "ports below 1024 need root"),
    ("http_port", 65536, "a whole number from 1024 to 65535"),
    ("http_port", "eighty", "'eighty' is not; ports below 1024 need root"),
    ("http_port", "8000.5", "a whole number from 1024 to 65535"),
    ("http_port", "", "a whole number from 1024 to 65535"),
    ("python_version", "3.10", "'3.10' is not one of: 3.11, 3.12, 3.13"),
    ("ci_provider", "jenkins", "'jenkins' is not one of: github, gitlab"),
    ("database", "mysql", "'mysql' is not one of: postgres, none"),
    ("broker", "kafka", "'kafka' is not one of: none, rabbitmq, redis, nats"),
    ("auth", "basic", "'basic' is not one of: oidc, none"),
]

# Answers refused only together: (answers, the question that refuses, its message).
REFUSED_COMBINATIONS: list[tuple[dict[str, Any], str, str]] = [
    ({"database": "none", "redis": False}, "redis", "must be yes when database is none"),
    *(
        ({"database": "none", "broker": broker}, "broker", "must be none when database is none")
        for broker in ("rabbitmq", "redis", "nats")
    ),
]


@pytest.mark.parametrize(
    ("question", "value", "message"),
    BAD_ANSWERS,
    ids=[f"{q}={v!r}"[:40] for q, v, _ in BAD_ANSWERS],
)
def test_bad_answer_is_refused_and_nothing_is_written(
    template: Path, tmp_path: Path, question: str, value: Any, message: str
) -> None:
    """A bad answer raises with the validator's message and leaves no destination behind."""
    dst = tmp_path / "out"
    with pytest.raises(ValueError, match=r"(?s)" + question + r".*" + _escape(message)):
        render(template, dst, **{question: value})
    assert not dst.exists() or not any(dst.iterdir())


def _escape(text: str) -> str:
    return re.escape(text)


def questions() -> dict[str, dict[str, Any]]:
    settings = yaml.safe_load((REPO / "copier.yml").read_text(encoding="utf-8"))
    return {k: v for k, v in settings.items() if not k.startswith("_") and isinstance(v, dict)}


def validator_message(question: str, answers: dict[str, Any]) -> str:
    """The question's validator rendered as copier renders it (same filters), stripped."""
    spec = importlib.util.spec_from_file_location("shipshape_ext", REPO / "extensions" / "shipshape.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    env = jinja2.Environment(extensions=[AnsibleCoreFiltersExtension, module.ShipshapeFilters])
    return env.from_string(questions()[question]["validator"]).render({**BASE_ANSWERS, **answers}).strip()


ALL_REFUSALS = [
    *((q, {q: v}) for q, v, _ in BAD_ANSWERS if "validator" in questions()[q] and "choices" not in questions()[q]),
    *((q, answers) for answers, q, _ in REFUSED_COMBINATIONS),
]


@pytest.mark.parametrize(("question", "answers"), ALL_REFUSALS, ids=[f"{a}"[:40] for _, a in ALL_REFUSALS])
def test_validator_message_fits_an_80_column_terminal(question: str, answers: dict[str, Any]) -> None:
    """The line the prompt shows (copier's prefix and the first line) fits 80 columns; detail follows."""
    first, *detail = validator_message(question, answers).splitlines()
    shown = f"Validation error for question '{question}': {first}"
    assert len(shown) <= 80, shown
    assert detail, "the detail (what is allowed) follows the first line"
    assert all(len(line) <= 80 for line in detail), detail


def test_every_validator_branch_has_a_refusal_test() -> None:
    """Every message a validator in copier.yml can give is produced by some case above."""
    for question, spec in questions().items():
        branches = re.findall(r"\{%-?\s*(?:if|elif)\b.*?%\}\s*\n([^\n]*)", spec.get("validator", ""))
        produced = [validator_message(q, a).splitlines()[0] for q, a in ALL_REFUSALS if q == question]
        for branch in branches:
            literal = branch.split("{{")[0].strip()
            assert any(line.startswith(literal) for line in produced), (question, branch)


def test_good_edge_values_are_accepted(template: Path, tmp_path: Path) -> None:
    """Boundary values the validators allow do render."""
    render(
        template,
        tmp_path / "p",
        project_name="AB",
        project_slug="a1",
        package_name="_private_pkg",
        http_port=1024,
        author_email="first.last+svc@sub.example.co.uk",
    )
    assert (tmp_path / "p" / "src" / "_private_pkg" / "app.py").is_file()


CLI_REFUSALS = [
    ({"package_name": "json"}, "package_name", "shadows a standard-library module"),
    ({"http_port": "eighty"}, "http_port", "a whole number from 1024 to 65535"),
    ({"broker": "kafka"}, "broker", "'kafka' is not one of"),
    *REFUSED_COMBINATIONS[:2],
]


@pytest.mark.parametrize(("answers", "question", "message"), CLI_REFUSALS, ids=[str(a)[:40] for a, _, _ in CLI_REFUSALS])
def test_cli_refuses_a_bad_answer_in_a_few_lines(
    template: Path, tmp_path: Path, answers: dict[str, Any], question: str, message: str
) -> None:
    """copier copy --data with a refused answer (or pair) prints copier's short validation error, no traceback."""
    dst = tmp_path / "cli"
    data = [f"--data={k}={v}" for k, v in {**BASE_ANSWERS, **answers}.items()]
    result = subprocess.run(
        [
            sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--vcs-ref=HEAD",
            *data, str(template), str(dst),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"Validation error for question '{question}': "), result.stderr
    assert message in lines[0]
    assert len(lines) <= 3, result.stderr
    assert not dst.exists() or not any(dst.iterdir())


def test_no_external_store_at_all_is_refused(template: Path, tmp_path: Path) -> None:
    """database=none with redis=no is refused: the service would have no external state store."""
    dst = tmp_path / "nostore"
    with pytest.raises(ValueError, match=r"question 'redis': must be yes when database is none"):
        render(template, dst, database="none", redis=False)
    assert not dst.exists() or not any(dst.iterdir())


@pytest.mark.parametrize("broker", ["rabbitmq", "redis", "nats"])
def test_broker_without_a_database_is_refused(template: Path, tmp_path: Path, broker: str) -> None:
    """A broker with database=none is refused: the transactional outbox needs the database."""
    dst = tmp_path / "out"
    with pytest.raises(ValueError, match=r"question 'broker': must be none when database is none"):
        render(template, dst, database="none", broker=broker)
    assert not dst.exists() or not any(dst.iterdir())
