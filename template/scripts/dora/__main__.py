"""``uv run python -m scripts.dora``: the DORA metrics command (see ``cli.py``)."""

import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
