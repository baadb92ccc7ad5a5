# shellcheck shell=bash
# Sourced by the scripts here: puts a uv on PATH, installing it into .tools/ if needed.
# Needs only python3 (3.11+) with venv; nothing is installed outside this checkout.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! command -v uv >/dev/null 2>&1; then
    if [ ! -x "$ROOT/.tools/bin/uv" ]; then
        echo "==> installing uv into $ROOT/.tools" >&2
        python3 -m venv "$ROOT/.tools"
        "$ROOT/.tools/bin/python" -m pip install --quiet --disable-pip-version-check uv
    fi
    export PATH="$ROOT/.tools/bin:$PATH"
fi
# The template's own tools (copier, pytest, ...) from the committed lock file.
uv sync --frozen --quiet --project "$ROOT"
