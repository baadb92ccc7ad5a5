"""Tier 1: a pointer into the generated README from a script or workflow names a section
the README really has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import render

# "(README: Section)" in messages, "the README's "Section" section" in comments.
POINTER = re.compile(r"\(README: ([^)]+)\)|README's \"([^\"]+)\" section")


@pytest.mark.parametrize("ci_provider", ["github", "gitlab"])
def test_readme_pointers_name_real_sections(template: Path, tmp_path: Path, ci_provider: str) -> None:
    """Every README pointer outside the README names one of its headings."""
    project = render(template, tmp_path / "p", ci_provider=ci_provider)
    headings = set(re.findall(r"^#+ (.+?)\s*$", (project / "README.md").read_text(encoding="utf-8"), re.MULTILINE))
    pointers = {
        (path.relative_to(project).as_posix(), a or b)
        for path in project.rglob("*")
        if path.is_file() and path.name != "README.md" and ".git" not in path.parts
        for a, b in POINTER.findall(path.read_text(encoding="utf-8", errors="replace"))
    }
    assert any(p == "scripts/check-template-update" for p, _ in pointers)
    for path, section in pointers:
        assert section in headings, f"{path} points at README section {section!r}, which does not exist"
