"""Tier 1: the real interactive questionnaire, driven through a pseudo-terminal."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest
import yaml

CLEAR_LINE = "\x15"  # Ctrl-U: prompt_toolkit discards the pre-filled default
ENTER = "\r"


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX-only")
def test_questionnaire_rejects_a_bad_package_name_then_accepts_a_good_one(
    template: Path, tmp_path: Path
) -> None:
    """A shadowing package name or a non-numeric port shows what is allowed; good answers render."""
    dst = tmp_path / "interactive"
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm", "NO_COLOR": "1"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "copier", "copy", "--trust", "--skip-tasks", "--vcs-ref=HEAD", str(template), str(dst)],
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 160),
    )
    try:
        child.expect("Human-readable name of the service")
        child.send(CLEAR_LINE + "Shipping Labels" + ENTER)
        child.expect("Distribution and repository name")
        child.send(ENTER)  # keep the derived slug
        child.expect("Python import package")
        child.send(CLEAR_LINE + "logging" + ENTER)
        child.expect("shadows a standard-library module")
        child.send(CLEAR_LINE + "labels_core" + ENTER)
        for prompt in ("One-line description", "Owner of the service", "Contact e-mail"):
            child.expect(prompt)
            child.send(ENTER)
        child.expect("Python version the service runs on")
        child.send(ENTER)
        child.expect("TCP port the service listens on")
        child.send(CLEAR_LINE + "eighty" + ENTER)
        child.expect("question 'http_port': a whole number from 1024 to 65535")
        child.send(CLEAR_LINE + "8081" + ENTER)
        child.expect("CI system")
        child.send(ENTER)  # keep github
        for prompt in (
            "Database for the service",
            "Use Redis for shared state",
            "Inbound authentication",
            "Message broker for events",
        ):
            child.expect(prompt)
            child.send(ENTER)
        child.expect(pexpect.EOF, timeout=60)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before
    answers = yaml.safe_load((dst / ".copier-answers.yml").read_text())
    assert answers["project_name"] == "Shipping Labels"
    assert answers["project_slug"] == "shipping-labels"
    assert answers["package_name"] == "labels_core"
    assert answers["http_port"] == 8081  # asked as text, recorded and rendered as a number
    assert "port: int = Field(default=8081," in (dst / "src" / "labels_core" / "settings.py").read_text()
    assert answers["ci_provider"] == "github"
    assert answers["auth"] == "oidc"
    assert (dst / "src" / "labels_core" / "app.py").is_file()
    assert not (dst / "src" / "logging").exists()
