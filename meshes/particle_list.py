"""Particle lists from files (tomography, DEM packings): CSV of centres and radii.

A file entry in a case, ``{mode: csv, path: FILE, unit: um, placement: inside}``, is read once
at load time and becomes an explicit particle list (``items``) that records its ``source``, so
the resolved case is self-contained. The CSV has a header naming the columns ``x, y, z,
radius`` (any order, extra columns ignored); values are in ``unit`` (default m). A relative
``path`` is relative to the case file.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from solver.units import to_si

COLUMNS = ("x", "y", "z", "radius")


def expand_csv_entry(entry: dict[str, Any], base_dir: Path | None) -> dict[str, Any]:
    """The explicit-particles entry for a ``mode: csv`` entry; ValueError on a bad file."""
    allowed = {"mode", "path", "unit", "placement"}
    unknown = set(entry) - allowed
    if unknown:
        raise ValueError(
            f"unknown key(s) {sorted(unknown)} for mode 'csv' (allowed: {sorted(allowed)})"
        )
    if "path" not in entry:
        raise ValueError("mode 'csv' needs 'path' (a CSV file with columns x, y, z, radius)")
    path = Path(str(entry["path"]))
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    scale = to_si(f"1 {entry.get('unit', 'm')}", "[length]", "um")
    items = [
        {"center": [row[0] * scale, row[1] * scale, row[2] * scale], "radius": row[3] * scale}
        for row in read_rows(path)
    ]
    if not items:
        raise ValueError(f"particle list {path} has no rows")
    return {
        "mode": "explicit",
        "items": items,
        "placement": entry.get("placement", "inside"),
        "source": str(path),
    }


def read_rows(path: Path) -> list[tuple[float, float, float, float]]:
    """Rows (x, y, z, radius) of a particle CSV, in the file's unit."""
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip().lower() for h in reader.fieldnames or []]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise ValueError(
                    f"particle list {path}: header {header} lacks column(s) {missing}; "
                    "expected x, y, z, radius"
                )
            rows = []
            for line, raw in enumerate(reader, start=2):
                row = {k.strip().lower(): v for k, v in raw.items() if k is not None}
                try:
                    x, y, z, r = (float(row[c]) for c in COLUMNS)
                except (TypeError, ValueError):
                    raise ValueError(
                        f"particle list {path}, line {line}: x, y, z, radius must be numbers"
                    ) from None
                rows.append((x, y, z, r))
            return rows
    except OSError as exc:
        raise ValueError(f"cannot read particle list {path}: {exc.strerror}") from None
