"""Quantity of interest against a swept parameter, from a CSV with one row per case.

``plot_sweep(csv_path, x_column, y_columns, out_png)`` draws one panel per y column against
``x_column`` (rows sorted by x; non-numeric or empty cells are skipped) with matplotlib only
(no PyVista: callers may have DOLFINx loaded). Columns are plotted in the units the CSV holds,
except stresses: columns named ``…_Pa`` or ``…_Pa_<material>`` (the history/summary
convention) are shown in MPa.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from postprocess.errors import RenderError
from postprocess.plots import new_figure, save


def plot_sweep(csv_path: Path, x_column: str, y_columns: Sequence[str], out_png: Path) -> Path:
    """Write ``out_png``: each of ``y_columns`` against ``x_column`` of ``csv_path``."""
    table = _read(Path(csv_path))
    missing = [c for c in (x_column, *y_columns) if c not in table]
    if missing or not y_columns:
        raise RenderError(
            f"{csv_path}: columns {missing or '(none asked)'} not found; have: {', '.join(table)}"
        )
    x, xlabel = _display(x_column, table[x_column])
    order = np.argsort(x)
    fig = new_figure(7.0, 2.6 * len(y_columns) + 0.6)
    axes = np.atleast_1d(fig.subplots(len(y_columns), 1, sharex=True, squeeze=False)[:, 0])
    for ax, col in zip(axes, y_columns, strict=True):
        y, label = _display(col, table[col])
        ok = np.isfinite(x[order]) & np.isfinite(y[order])
        ax.plot(x[order][ok], y[order][ok], marker="o", color="C0")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.35)
    axes[0].set_title(f"sweep: {xlabel}, {len(x)} cases")
    axes[-1].set_xlabel(xlabel)
    return save(fig, Path(out_png))


def _display(column: str, values: np.ndarray) -> tuple[np.ndarray, str]:
    """Values and axis label; Pa columns → MPa."""
    parts = column.split("_")
    if "Pa" in parts:
        name = "_".join(p for p in parts if p != "Pa")
        return values * 1e-6, f"{name} (MPa)"
    return values, column


def _read(path: Path) -> dict[str, np.ndarray]:
    """CSV columns as float arrays (non-numeric cells → NaN)."""
    try:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise RenderError(f"{path}: {exc}") from exc
    if not rows:
        raise RenderError(f"{path}: no rows")
    return {k: np.array([_float(r.get(k)) for r in rows]) for k in rows[0]}


def _float(v: str | None) -> float:
    try:
        return float(v) if v is not None and v.strip() else math.nan
    except ValueError:
        return math.nan
