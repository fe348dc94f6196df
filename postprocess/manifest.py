"""``figures/figures.json``: what each written figure shows and the colour limits it used.

One entry per file: ``file``, ``kind`` (``map``, ``animation``, ``plot``), and for maps
``field``, ``view``, ``unit``, ``step``, ``time_s``, ``soc``, ``clim`` (the colour-bar limits,
display unit, shared by all steps), ``step_range`` (the field's min/max at that step over the
coloured regions), ``regions`` (coloured regions, null = all) and ``size`` (px). Tests and
``ssbmech compare`` read it; it is also the record of how long rendering took.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

MANIFEST_JSON = "figures.json"


def write_manifest(
    out_dir: Path, entries: Sequence[Mapping[str, Any]], info: Mapping[str, Any]
) -> Path:
    """Write ``out_dir/figures.json`` with ``info`` and the ``figures`` entries."""
    path = Path(out_dir) / MANIFEST_JSON
    path.write_text(json.dumps({**info, "figures": list(entries)}, indent=2) + "\n")
    return path


def read_manifest(out_dir: Path) -> dict[str, Any]:
    """The manifest written by :func:`write_manifest` ({} if there is none)."""
    path = Path(out_dir) / MANIFEST_JSON
    return json.loads(path.read_text()) if path.is_file() else {}
