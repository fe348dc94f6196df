"""Self-contained HTML report of one run (figures embedded as base64 PNG, no external files).

Sections: Run, Final values per material, Timings, Versions, Figures. Stresses are shown in
MPa, times in s, memory in MB; whatever ``summary.json`` lacks is shown as "–".
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from postprocess.reader import RunData

_MPA = 1e-6
#: (label, history/summary column prefix, scale, format) per material quantity.
_MATERIAL_COLUMNS = (
    ("max σ1 (MPa)", "max_principal_Pa_", _MPA, "{:.1f}"),
    ("mean hydrostatic (MPa)", "mean_hydrostatic_Pa_", _MPA, "{:.1f}"),
    ("max crack risk σ1/σ_f (–)", "max_crack_risk_", 1.0, "{:.3f}"),
)
_CSS = """
body { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
.status-complete { color: #1a7f37; } .status-failed { color: #c62828; }
.status-running { color: #b26a00; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.9em; }
"""


def write_report(run: RunData, figures: Sequence[Path], out_html: Path) -> Path:
    """Write ``out_html``: run facts, final per-material values, timings, versions, figures."""
    s = run.summary
    status = run.status
    title = f"ssbmech report — {run.case_name}"
    facts = {
        "case": run.case_name,
        "status": status,
        "model": s.get("model", run.case.get("model", "–")),
        "steps": s.get("steps", "–"),
        "DOFs": s.get("dofs", "–"),
        "cells": s.get("cells", "–"),
        "MPI size": s.get("mpi_size", "–"),
        "peak memory (MB)": s.get("peak_memory_mb", "–"),
        "run directory": str(run.run_dir),
    }
    final = _final_values(run)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{_esc(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_esc(run.case_name)}</h1>",
        f'<p>Status: <strong class="status-{_esc(status)}">{_esc(status)}</strong></p>',
        "<h2>Run</h2>",
        _kv_table(facts),
        "<h2>Final values per material</h2>",
        _material_table(run, final),
        _kv_table(_global_final(final)),
        "<h2>Timings</h2>",
        _kv_table({k: v for k, v in _mapping(s.get("timings_s")).items()}, header=("step", "s")),
        "<h2>Versions</h2>",
        _kv_table(_mapping(s.get("versions")), header=("package", "version")),
        "<h2>Figures</h2>",
        *(_figure(p) for p in figures),
        "</body>",
        "</html>",
    ]
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return out_html


def _final_values(run: RunData) -> dict[str, Any]:
    """``summary.final`` if present, else the last history row."""
    final = run.summary.get("final")
    if isinstance(final, dict) and final:
        return final
    return {k: float(v[-1]) for k, v in run.history.items() if len(v)}


def _material_table(run: RunData, final: Mapping[str, Any]) -> str:
    mats = list(dict.fromkeys(run.materials.values()))
    mats += sorted(
        {k.removeprefix("max_principal_Pa_") for k in final if k.startswith("max_principal_Pa_")}
        - set(mats)
    )
    if not mats:
        return "<p>No per-material values.</p>"
    region_of = {m: r for r, m in run.materials.items()}
    head = "".join(f"<th>{_esc(label)}</th>" for label, *_ in _MATERIAL_COLUMNS)
    rows = [f"<tr><th>material</th><th>region</th>{head}</tr>"]
    for mat in mats:
        cells = "".join(
            f"<td>{_fmt(final.get(prefix + mat), scale, fmt)}</td>"
            for _, prefix, scale, fmt in _MATERIAL_COLUMNS
        )
        rows.append(f"<tr><td>{_esc(mat)}</td><td>{_esc(region_of.get(mat, '–'))}</td>{cells}</tr>")
    return "<table>\n" + "\n".join(rows) + "\n</table>"


def _global_final(final: Mapping[str, Any]) -> dict[str, str]:
    return {
        "time (s)": _fmt(final.get("time_s"), 1.0, "{:g}"),
        "SOC (–)": _fmt(final.get("soc"), 1.0, "{:.4g}"),
        "stack pressure (MPa)": _fmt(final.get("stack_pressure_Pa"), _MPA, "{:.2f}"),
        "stack strain (–)": _fmt(final.get("stack_strain"), 1.0, "{:.3e}"),
    }


def _kv_table(rows: Mapping[str, Any], header: tuple[str, str] | None = None) -> str:
    if not rows:
        return "<p>–</p>"
    out = ["<table>"]
    if header:
        out.append(f"<tr><th>{_esc(header[0])}</th><th>{_esc(header[1])}</th></tr>")
    for k, v in rows.items():
        value = _fmt(v, 1.0, "{:.3g}") if isinstance(v, float) else _esc(v)
        out.append(f"<tr><td>{_esc(k)}</td><td>{value}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def _figure(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    name = _esc(Path(path).name)
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{name}">'
        f"<figcaption>{name}</figcaption></figure>"
    )


def _fmt(value: Any, scale: float, fmt: str) -> str:
    if value is None:
        return "–"
    try:
        x = float(value) * scale
    except (TypeError, ValueError):
        return _esc(value)
    return "–" if math.isnan(x) else fmt.format(x)


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)
