"""Makes the shared synthetic community (``ledger_synthetic``) importable by these tests."""

from __future__ import annotations

import sys
from pathlib import Path

# The suite runs with --import-mode=importlib (no packages under tests/), so helpers shared by
# several test modules are found through sys.path; the distinct name avoids any clash.
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
