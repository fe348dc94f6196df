"""Quantity of interest against a swept parameter, from a CSV with one row per case.

``plot_sweep(csv_path, x_column, y_columns, out_png)`` draws one panel per y column against
``x_column`` (rows sorted by x; non-numeric or empty cells are skipped) with matplotlib only
(no PyVista: callers may have DOLFINx loaded). Options: ``series`` (one line per value of
that column), ``log`` (``"x"`` and/or ``"y"`` logarithmic), ``reference`` (a dashed
horizontal line in the first panel, e.g. index = 1). ``plot_histories(sweep_dir, …)``
draws instead one line per complete case of ``sweep.csv`` from that case's ``history.csv``
(e.g. stack pressure vs SOC).

Cells are numbers or quantities with units as the sweep file writes them (``"50 MPa"``,
``"0.2 um"``; parsed with pint to SI). Displayed units: stresses in MPa (columns named
``…_Pa`` or ``…_Pa_<material>``, the history/summary convention, and pressure quantities),
lengths given with units in µm, length columns named ``…_m…`` (flaw sizes, critical radii) in
nm; other columns as the CSV holds them.

A y entry may be a derived column ``label = expression``: an arithmetic expression
(numbers, ``+ - * / **``, parentheses) of columns written in braces, e.g.
``h_over_hc = 1.976 * (1.5 * {mean_hydrostatic_Pa_Si})**2 * {geometry.layers.1.thickness}
/ 1e12``, evaluated per row in SI.
"""

from __future__ import annotations

import ast
import csv
import math
import operator
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from postprocess.errors import RenderError
from postprocess.plots import new_figure, save

Table = dict[str, np.ndarray]
_PRESSURE, _LENGTH = "[mass] / [length] / [time] ** 2", "[length]"
_DERIVED = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*=(.+)$")
_BRACED = re.compile(r"\{([^{}]+)\}")
_OPS: dict[type, Callable[..., Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def plot_sweep(
    csv_path: Path,
    x_column: str,
    y_columns: Sequence[str],
    out_png: Path,
    series: str | None = None,
    log: Sequence[str] = (),
    reference: float | None = None,
) -> Path:
    """Write ``out_png``: each of ``y_columns`` against ``x_column`` of ``csv_path``."""
    table, units = _read(Path(csv_path))
    ys = [_column(table, units, y, csv_path) for y in y_columns]
    if not y_columns:
        raise RenderError(f"{csv_path}: no y columns asked; have: {', '.join(table)}")
    x, xlabel = _display(x_column, *_column(table, units, x_column, csv_path))
    groups: list[tuple[str | None, np.ndarray]] = [(None, np.ones(len(x), dtype=bool))]
    if series is not None:
        if series not in table:
            raise RenderError(f"{csv_path}: series column {series!r} not found")
        raw = _raw(Path(csv_path), series)
        groups = [(f"{series} = {v}", np.array([r == v for r in raw])) for v in dict.fromkeys(raw)]
    fig, axes = _axes(len(ys))
    for i, (ax, (values, dim), col) in enumerate(zip(axes, ys, y_columns, strict=True)):
        y, label = _display(col, values, dim)
        for n, (name, rows) in enumerate(groups):
            ok = rows & np.isfinite(x) & np.isfinite(y)
            order = np.argsort(x[ok])
            ax.plot(x[ok][order], y[ok][order], marker="o", color=f"C{n}", label=name)
        _finish(ax, label, log, reference if i == 0 else None, legend=series is not None)
    axes[0].set_title(f"sweep: {xlabel}, {len(x)} cases")
    axes[-1].set_xlabel(xlabel)
    return save(fig, Path(out_png))


def plot_histories(
    sweep_dir: Path,
    x_column: str,
    y_columns: Sequence[str],
    out_png: Path,
    log: Sequence[str] = (),
    reference: float | None = None,
) -> Path:
    """Write ``out_png``: ``y_columns`` against ``x_column`` of each complete case's history."""
    sweep_dir = Path(sweep_dir)
    with _open(sweep_dir / "sweep.csv") as fh:
        cases = [r["case"] for r in csv.DictReader(fh) if r.get("status") == "complete"]
    if not cases:
        raise RenderError(f"{sweep_dir / 'sweep.csv'}: no complete case")
    fig, axes = _axes(len(y_columns))
    xlabel = x_column
    for n, case in enumerate(cases):
        path = sweep_dir / case / "history.csv"
        table, units = _read(path)
        x, xlabel = _display(x_column, *_column(table, units, x_column, path))
        for ax, col in zip(axes, y_columns, strict=True):
            y, label = _display(col, *_column(table, units, col, path))
            ax.plot(x, y, marker="o", markersize=3, color=f"C{n}", label=case)
            ax.set_ylabel(label)
    for i, ax in enumerate(axes):
        _finish(ax, ax.get_ylabel(), log, reference if i == 0 else None, legend=i == 0)
    axes[0].set_title(f"sweep histories: {len(cases)} cases")
    axes[-1].set_xlabel(xlabel)
    return save(fig, Path(out_png))


def _axes(n: int) -> tuple[Any, list[Any]]:
    fig = new_figure(7.0, 2.6 * n + 0.6)
    return fig, list(np.atleast_1d(fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]))


def _finish(ax: Any, label: str, log: Sequence[str], ref: float | None, legend: bool) -> None:
    ax.set_ylabel(label)
    ax.grid(True, alpha=0.35, which="both")
    if "x" in log:
        ax.set_xscale("log")
    if "y" in log:
        ax.set_yscale("log")
    else:  # a constant quantity: a ±10 % window instead of an offset axis of roundoff
        ax.ticklabel_format(axis="y", useOffset=False)
        lo, hi = ax.get_ylim()
        mid = 0.5 * (lo + hi)
        if hi - lo < 1e-6 * abs(mid):
            ax.set_ylim(sorted((0.9 * mid, 1.1 * mid)))
    if ref is not None:
        ax.axhline(ref, color="k", linestyle="--", linewidth=0.8)
    if legend:
        ax.legend(fontsize=7)


def _column(table: Table, units: dict[str, str], spec: str, where: Path) -> tuple[np.ndarray, str]:
    """Values (SI) and dimension of a column or of a derived ``label = expression``."""
    match = _DERIVED.match(spec)
    if match is None:
        if spec not in table:
            raise RenderError(f"{where}: column {spec!r} not found; have: {', '.join(table)}")
        return table[spec], units.get(spec, "")
    names = _BRACED.findall(match.group(2))
    missing = [n for n in names if n not in table]
    if missing:
        raise RenderError(f"{where}: {spec!r}: columns {missing} not found")
    variables = {f"_v{i}": table[n] for i, n in enumerate(names)}
    expression = match.group(2)
    for i, name in enumerate(names):
        expression = expression.replace("{" + name + "}", f"_v{i}", 1)
    try:
        tree = ast.parse(expression.strip(), mode="eval")
        return np.asarray(_evaluate(tree.body, variables), dtype=float), ""
    except (SyntaxError, KeyError, TypeError) as exc:
        raise RenderError(f"{where}: {spec!r}: not an arithmetic expression ({exc})") from None


def _evaluate(node: ast.AST, variables: dict[str, np.ndarray]) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name):
        return variables[node.id]
    if isinstance(node, ast.BinOp):
        op = _OPS[type(node.op)]
        return op(_evaluate(node.left, variables), _evaluate(node.right, variables))
    if isinstance(node, ast.UnaryOp):
        return _OPS[type(node.op)](_evaluate(node.operand, variables))
    raise TypeError(f"{ast.dump(node)} is not allowed")


def _display(column: str, values: np.ndarray, dimension: str) -> tuple[np.ndarray, str]:
    """Values and axis label: Pa columns and pressures → MPa, lengths → µm, ``_m`` → nm."""
    match = _DERIVED.match(column)
    name = match.group(1) if match else column
    parts = name.split("_")
    if "Pa" in parts or dimension == _PRESSURE:
        return values * 1e-6, f"{'_'.join(p for p in parts if p != 'Pa')} (MPa)"
    if dimension == _LENGTH:
        return values * 1e6, f"{name} (µm)"
    if "m" in parts:  # flaw sizes and critical radii (…_m…): nm
        return values * 1e9, f"{'_'.join(p for p in parts if p != 'm')} (nm)"
    return values, name


def _open(path: Path) -> Any:
    try:
        return path.open(newline="")
    except OSError as exc:
        raise RenderError(f"{path}: {exc}") from exc


def _raw(path: Path, column: str) -> list[str]:
    with _open(path) as fh:
        return [r.get(column) or "" for r in csv.DictReader(fh)]


def _read(path: Path) -> tuple[Table, dict[str, str]]:
    """CSV columns as SI float arrays (non-numeric cells → NaN) and their pint dimensions."""
    with _open(path) as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise RenderError(f"{path}: no rows")
    table: Table = {}
    units: dict[str, str] = {}
    for key in rows[0]:
        parsed = [_quantity(r.get(key)) for r in rows]
        table[key] = np.array([v for v, _ in parsed])
        dims = {d for _, d in parsed if d}
        if len(dims) == 1:
            units[key] = dims.pop()
    return table, units


def _quantity(cell: str | None) -> tuple[float, str]:
    """(SI value, dimensionality) of a number or a quantity string; (NaN, '') otherwise."""
    if cell is None or not cell.strip():
        return math.nan, ""
    try:
        return float(cell), ""
    except ValueError:
        pass
    try:
        q = _registry().Quantity(cell).to_base_units()
    except Exception:  # any pint parse failure: not a quantity
        return math.nan, ""
    magnitude = q.magnitude
    if not isinstance(magnitude, int | float):
        return math.nan, ""
    return float(magnitude), str(q.dimensionality)


@lru_cache(maxsize=1)
def _registry() -> Any:
    import pint

    return pint.UnitRegistry()
