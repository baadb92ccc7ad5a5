"""Time `copier copy` of the default answers (median of several runs) and print the figures.

Usage: uv run python bench/copy_time.py [RUNS]

Measures rendering alone (tasks skipped) and rendering plus the `uv lock` task, in one run,
so the two figures are comparable on a noisy machine.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import copier
from plumbum import local

ROOT = Path(__file__).resolve().parent.parent


def snapshot() -> Path:
    """A committed copy of the template, as users would get it from git."""
    src = Path(tempfile.mkdtemp()) / "template"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(src)], check=True)
    return src


def time_cli(src: Path) -> float:
    """The whole command a user types, interpreter start-up included (tasks skipped)."""
    dst = Path(tempfile.mkdtemp()) / "svc"
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "copier",
            "copy",
            "-q",
            "--trust",
            "--defaults",
            "--skip-tasks",
            str(src),
            str(dst),
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def time_copy(src: Path, *, tasks: bool) -> float:
    dst = Path(tempfile.mkdtemp()) / "svc"
    started = time.perf_counter()
    copier.run_copy(
        str(src), dst, defaults=True, unsafe=True, quiet=True, skip_tasks=not tasks
    )
    return time.perf_counter() - started


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    # The uv lock task needs uv: use the one installed beside this interpreter.
    local.env["PATH"] = f"{Path(sys.executable).parent}:{local.env.get('PATH', '')}"
    src = snapshot()
    time_copy(src, tasks=False)  # warm imports and the clone cache
    render = [time_copy(src, tasks=False) for _ in range(runs)]
    locked = [time_copy(src, tasks=True) for _ in range(runs)]
    cli = [time_cli(src) for _ in range(runs)]
    print(f"copier copy, default answers, {runs} runs each (seconds)")
    print(f"{'what':<28}{'median':>8}{'min':>8}{'max':>8}")
    for name, values in [
        ("render only", render),
        ("render + uv lock task", locked),
        ("copier CLI, render only", cli),
    ]:
        print(
            f"{name:<28}{statistics.median(values):>8.3f}{min(values):>8.3f}{max(values):>8.3f}"
        )


if __name__ == "__main__":
    main()
