"""Tier 1: every validator refuses bad answers with a message that says what is allowed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import BASE_ANSWERS, render

BAD_ANSWERS: list[tuple[str, Any, str]] = [
    ("project_name", "", "project_name must be 2-64 characters"),
    ("project_name", "9 Lives", "starting with a letter"),
    ("project_name", "Orders/Service", "project_name must be 2-64 characters"),
    ("project_name", "x" * 65, "project_name must be 2-64 characters"),
    ("project_slug", "Orders-Service", "project_slug must be lowercase"),
    ("project_slug", "orders--service", "joined by single '-'"),
    ("project_slug", "-orders", "project_slug must be lowercase"),
    ("project_slug", "orders_service", "project_slug must be lowercase"),
    ("package_name", "Orders", "package_name must be a lowercase Python identifier"),
    ("package_name", "9orders", "not starting with a digit"),
    ("package_name", "orders-service", "package_name must be a lowercase Python identifier"),
    ("package_name", "class", "is a Python keyword"),
    ("package_name", "match", "is a Python keyword"),
    ("package_name", "logging", "would shadow the standard-library module"),
    ("package_name", "test", "would shadow the standard-library module"),
    ("package_name", "asyncio", "would shadow the standard-library module"),
    ("package_name", "fastapi", "would shadow the dependency module"),
    ("package_name", "structlog", "would shadow the dependency module"),
    ("package_name", "pydantic", "would shadow the dependency module"),
    ("description", "two\nlines", "description must be a single non-empty line"),
    ("description", "   ", "description must be a single non-empty line"),
    ("author_name", 'The "A" Team', "without double quotes or backslashes"),
    ("author_name", "", "author_name must be a single non-empty line"),
    ("author_email", "not-an-email", "author_email must be an address like name@example.com"),
    ("author_email", "a@b", "author_email must be an address like name@example.com"),
    ("author_email", "two@@example.com", "author_email must be an address like name@example.com"),
    ("author_email", "space in@example.com", "author_email must be an address"),
    ("http_port", 80, "http_port must be a whole number from 1024 to 65535"),
    ("http_port", 1023, "http_port must be a whole number from 1024 to 65535"),
    ("http_port", 65536, "http_port must be a whole number from 1024 to 65535"),
    ("python_version", "3.10", "3.10"),
    ("ci_provider", "jenkins", "jenkins"),
    ("database", "mysql", "mysql"),
    ("broker", "kafka", "kafka"),
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
    import re

    return re.escape(text)


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


def test_cli_refuses_a_bad_answer_with_the_message(template: Path, tmp_path: Path) -> None:
    """The copier command line prints the validator's message, fails, and writes nothing."""
    dst = tmp_path / "cli"
    data = [f"--data={k}={v}" for k, v in {**BASE_ANSWERS, "package_name": "json"}.items()]
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
    assert result.returncode != 0
    assert "would shadow the standard-library module" in result.stdout + result.stderr
    assert not dst.exists() or not any(dst.iterdir())


def test_no_external_store_at_all_is_refused(template: Path, tmp_path: Path) -> None:
    """database=none with redis=no is refused: the service would have no external state store."""
    dst = tmp_path / "nostore"
    with pytest.raises(ValueError, match=r"redis must be yes when database is none"):
        render(template, dst, database="none", redis=False)
    assert not dst.exists() or not any(dst.iterdir())


@pytest.mark.parametrize("broker", ["rabbitmq", "redis", "nats"])
def test_broker_without_a_database_is_refused(template: Path, tmp_path: Path, broker: str) -> None:
    """A broker with database=none is refused: the transactional outbox needs the database."""
    dst = tmp_path / "out"
    with pytest.raises(ValueError, match=r"broker must be none when database is none"):
        render(template, dst, database="none", broker=broker)
    assert not dst.exists() or not any(dst.iterdir())
