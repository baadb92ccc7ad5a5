"""Time `copier update` from each earlier release to the working tree and print the figures.

Usage: uv run python bench/update_time.py

Builds the tagged template versions the update tier uses (tests/test_update.py), then per
version: render the default answers at that version, apply the owner's edits, commit, and time
the update alone (inline conflicts, tasks skipped).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import test_update as tier


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="shipshape-update-bench-"))
    started = time.perf_counter()
    newest = tier.build_versions(base / "shipshape")
    print(f"tagged versions built in {time.perf_counter() - started:.2f} s; newest {newest}")
    for version in [v for v, _ in tier.releases()[:-1]]:
        project = tier.render_at(base / "shipshape", version, base / version / "svc", "default")
        tier.make_owner_edits(project, "default")
        started = time.perf_counter()
        tier.update(project, newest)
        took = time.perf_counter() - started
        marked = sorted(tier.files_with_markers(project))
        print(f"{version} -> {newest}: copier update {took:.2f} s; conflicts in {marked}")


if __name__ == "__main__":
    main()
