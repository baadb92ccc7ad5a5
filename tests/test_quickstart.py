"""scripts/quickstart works with whichever suitable Python the machine has, and says in two
lines which Python is missing (and how to get it) when there is none: never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, uv_bin

# uv sees only the interpreters on PATH (no uv-managed ones) and never downloads one.
NO_DOWNLOADS = {"UV_PYTHON_DOWNLOADS": "never", "UV_PYTHON_PREFERENCE": "only-system"}


def tool_dir(tmp_path: Path, *names: str, **links: str) -> Path:
    """A PATH directory holding uv and the named system commands, and nothing else."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uv").symlink_to(uv_bin())
    for name in names:
        found = shutil.which(name)
        assert found, f"{name} is not installed"
        (bin_dir / name).symlink_to(found)
    for name, target in links.items():
        (bin_dir / name).symlink_to(target)
    return bin_dir


def run_quickstart(root: Path, path: str, dst: Path, timeout: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "UV_PYTHON"}}
    env.update(NO_DOWNLOADS, PATH=path)
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(root / "scripts" / "quickstart"), str(dst)],
        cwd=root, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )


def test_no_python_for_the_template_tools_is_two_lines(tmp_path: Path) -> None:
    """On a fresh checkout with no Python 3.11+ to find or download, the scripts say so in two lines."""
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(REPO / name, checkout / name)
    for script in (REPO / "scripts").iterdir():
        shutil.copy(script, checkout / "scripts" / script.name)
    result = run_quickstart(checkout, str(tool_dir(tmp_path, "bash", "dirname")), tmp_path / "svc", 120)
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert "Python 3.11 or newer" in lines[0]
    assert "uv python install" in lines[1]
    assert not (checkout / ".venv").exists()


def test_no_python_for_the_service_is_two_lines(tmp_path: Path) -> None:
    """With the template's tools installed but no 3.11-3.13 uv can find or fetch, the quick start stops in two lines."""
    result = run_quickstart(REPO, str(tool_dir(tmp_path, "bash", "dirname")), tmp_path / "svc", 300)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("quickstart: the service needs Python 3.11, 3.12 or 3.13")
    assert "uv python install 3.12" in lines[1]
    assert not (tmp_path / "svc").exists()


@pytest.mark.slow
def test_quick_start_uses_the_only_python_there_is(tmp_path: Path) -> None:
    """With only a Python 3.11 on PATH (not the default 3.12), the quick start picks 3.11 and goes green."""
    python311 = Path("/usr/bin/python3.11")
    if not python311.exists():
        python311 = Path(shutil.which("python3.11") or "python3.11").resolve()
    others = [v for v in ("3.12", "3.13") if (Path("/usr/bin") / f"python{v}").exists()]
    assert not others, f"/usr/bin holds Python {others}: this test needs a PATH with 3.11 only"
    path = os.pathsep.join([str(tool_dir(tmp_path, **{"python3.11": str(python311)})), "/usr/bin", "/bin"])
    dst = tmp_path / "svc"
    result = run_quickstart(REPO, path, dst, 1200)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    assert "python_version=3.11" in output
    assert (dst / ".python-version").read_text().strip() == "3.11"
    assert "exit code after SIGTERM: 0" in result.stdout
