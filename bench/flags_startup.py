"""What the feature-flag machinery costs a generated service at start-up; prints figures.

Usage: python bench/flags_startup.py PROJECT [BASELINE_PROJECT] [--runs N]

PROJECT is a rendered, synced service (``uv sync`` done); BASELINE_PROJECT, if given, is the
same service rendered from a template commit without flags. For each it prints:

- the import time of the app module (flags.py imports the OpenFeature SDK; with
  opentelemetry-api installed, as the OTel hook needs, FastAPI also imports its own OTel
  integration), against the baseline;
- import time of the flag modules (``python -X importtime``, cumulative, after the app's other
  imports): the OpenFeature SDK, the OpenTelemetry hook, the service's file provider on
  flagd's evaluator (``<package>.flag_file``, the default), and flagd's own provider (gRPC,
  protobuf, YAML), which is imported only when a flagd server is the provider;
- the median wall time from process start to the first ``/readyz`` 200, per provider mode
  (``file``: the default; ``memory``: OpenFeature without flagd), and for the baseline;
- the cost of one evaluation of the example flag (file mode, targeting rule, tracing hook).

Runs alternate between modes so machine noise hits them alike. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

FLAG_MODULES = {
    "openfeature.api": "OpenFeature SDK",
    "openfeature.contrib.hook.opentelemetry": "OpenTelemetry hook (with opentelemetry-api)",
    "{package}.flag_file": "file provider: flagd's evaluator (json-logic), the default",
    "openfeature.contrib.provider.flagd": "flagd's provider (gRPC, protobuf), server mode only",
}


def _package(project: Path) -> str:
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    script = next(iter(meta["project"]["scripts"].values()))
    return str(script.split(".")[0])


def _python(project: Path) -> str:
    return str(project / ".venv" / "bin" / "python")


def import_times(project: Path) -> dict[str, float]:
    """Cumulative import time (ms) of each flag module, imported after the app's other modules."""
    package = _package(project)
    modules = {module.format(package=package): module for module in FLAG_MODULES}
    code = f"import {package}.settings, fastapi, structlog, orjson, uvicorn\n" + "".join(
        f"import {module}\n" for module in modules
    )
    result = subprocess.run(
        [_python(project), "-X", "importtime", "-c", code],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    times: dict[str, float] = {}
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|(\s*)(\S+)", line)
        if match and match.group(3) in modules:
            module = modules[match.group(3)]
            times[module] = max(times.get(module, 0.0), int(match.group(1)) / 1000)
    return times


EVALUATION = """
import time
from pathlib import Path
from openfeature import api
from openfeature.contrib.hook.opentelemetry import TracingHook
from openfeature.evaluation_context import EvaluationContext
from {package}.flag_file import FlagFileProvider

api.add_hooks([TracingHook()])
api.set_provider_and_wait(FlagFileProvider(Path("flags/flags.json"), 5.0))
client = api.get_client()
context = EvaluationContext("user-1", {"tenant": "acme", "method": "GET", "path": "/items"})
for _ in range(500):
    client.get_boolean_value("items-page-totals", False, context)
started = time.perf_counter()
for _ in range(20000):
    client.get_boolean_value("items-page-totals", False, context)
print((time.perf_counter() - started) / 20000 * 1e6)
api.shutdown()
"""


def evaluation_us(project: Path) -> float:
    """Microseconds per evaluation of the example flag, in the project's environment."""
    result = subprocess.run(
        [_python(project), "-c", EVALUATION.replace("{package}", _package(project))],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.split()[-1])


def app_import_ms(project: Path) -> float:
    """Wall time (ms) of ``import <package>.app`` in a fresh interpreter, less ``pass``."""

    def run(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([_python(project), "-c", code], cwd=project, check=True)
        return (time.perf_counter() - started) * 1000

    return run(f"import {_package(project)}.app") - run("pass")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_to_ready(project: Path, mode: str | None) -> float:
    """Seconds from spawning ``python -m <package>`` to the first /readyz 200."""
    package = _package(project)
    prefix = package.upper() + "_"
    port = _free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}
    }
    env[f"{prefix}PORT"] = str(port)
    if mode is not None:
        env[f"{prefix}FLAGS_PROVIDER"] = mode
    started = time.perf_counter()
    process = subprocess.Popen(
        [_python(project), "-m", package],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = started + 30
        while time.perf_counter() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/readyz", timeout=1
                ) as r:
                    if r.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.005)
        raise RuntimeError(f"{project} ({mode}) never became ready")
    finally:
        process.terminate()
        process.wait(timeout=15)


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("baseline", type=Path, nargs="?")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    print(f"import time (cumulative, ms), {args.project}:")
    runs = [import_times(args.project) for _ in range(args.runs)]
    for module, label in FLAG_MODULES.items():
        values = [run[module] for run in runs if module in run]
        print(f"  {module:42s} {statistics.median(values):7.1f}  {label}")

    print(
        f"import <package>.app (median of {args.runs}, ms; the provider is imported at start):"
    )
    projects = [("flags", args.project)] + (
        [("baseline", args.baseline)] if args.baseline else []
    )
    for name, project in projects:
        values = [app_import_ms(project) for _ in range(args.runs)]
        print(f"  {name:24s} {statistics.median(values):7.1f}  (min {min(values):.1f})")

    subjects: list[tuple[str, Path, str | None]] = [
        ("flags: file (default)", args.project, "file"),
        ("flags: memory", args.project, "memory"),
    ]
    if args.baseline:
        subjects.append(("baseline (no flags)", args.baseline, None))
    samples: dict[str, list[float]] = {name: [] for name, _, _ in subjects}
    for _ in range(args.runs):
        for name, project, mode in subjects:
            samples[name].append(start_to_ready(project, mode))
    print(f"start to first /readyz 200 (median of {args.runs}, s):")
    for name, values in samples.items():
        print(f"  {name:24s} {statistics.median(values):.3f}  (min {min(values):.3f})")
    print(f"one evaluation of items-page-totals: {evaluation_us(args.project):.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
