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
# The template's own tools (copier, pytest, ...) from the committed lock file. They need
# Python 3.11+ (uv downloads one where it may); without one, say so in two lines.
if ! sync_errors="$(uv sync --frozen --quiet --project "$ROOT" 2>&1)"; then
    if ! uv python find --no-project --no-python-downloads ">=3.11" >/dev/null 2>&1; then
        echo "scripts: the template's tools need Python 3.11 or newer; none is installed and uv could not download one." >&2
        echo "Get one with \`uv python install 3.12\` (needs network) or your system's python3.11 package." >&2
    else
        echo "$sync_errors" >&2
        echo "scripts: installing the template's tools failed (uv sync --frozen, message above)." >&2
    fi
    exit 1
fi
