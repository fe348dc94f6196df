"""Self-contained HTML report of one run (figures embedded as base64 PNG, no external files).

Sections: Case (geometry, loading, lithiation, solver from ``case.resolved.yaml``, SI),
Materials (parameters and their sources), Mesh (cells, vertices, DOFs, region volume
fractions, quality), Final values per material, Maxima (largest σ1, von Mises and crack risk
per region with position, step and SOC: :mod:`postprocess.stats`), Maps, Plots, Timings,
Versions. Stresses in MPa, lengths in µm where stated, times in s; whatever the run directory
lacks is shown as "–".
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from postprocess.reader import RunData
from postprocess.stats import FieldStats

_MPA = 1e-6
#: (label, history/summary column prefix, scale, format) per material quantity.
_MATERIAL_COLUMNS = (
    ("max σ1 (MPa)", "max_principal_Pa_", _MPA, "{:.1f}"),
    ("mean hydrostatic (MPa)", "mean_hydrostatic_Pa_", _MPA, "{:.1f}"),
    ("max crack risk σ1/σ_f (–)", "max_crack_risk_", 1.0, "{:.3f}"),
)
#: (label, key, scale, format) of material parameters
_PARAMETERS = (
    ("E (GPa)", "E", 1e-9, "{:.1f}"),
    ("ν", "nu", 1.0, "{:.2f}"),
    ("E lithiated (GPa)", "E_lithiated", 1e-9, "{:.1f}"),
    ("K_IC (MPa√m)", "K_IC", 1e-6, "{:.2f}"),
    ("flaw (µm)", "flaw_size", 1e6, "{:.3g}"),
)
_CSS = """
body { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
td.text { text-align: left; font-size: 0.85em; }
.status-complete { color: #1a7f37; } .status-failed { color: #c62828; }
.status-running { color: #b26a00; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.9em; }
"""


def write_report(
    run: RunData,
    maps: Sequence[Path],
    plots: Sequence[Path],
    stats: FieldStats,
    render_timing: Mapping[str, float],
    out_html: Path,
) -> Path:
    """Write ``out_html`` with every section listed in the module docstring."""
    s = run.summary
    status = run.status
    final = _final_values(run)
    timings = {**_mapping(s.get("timings_s")), **render_timing}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{_esc(f'ssbmech report — {run.case_name}')}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_esc(run.case_name)}</h1>",
        f"<p>{_esc(run.case.get('description', ''))}</p>",
        f'<p>Status: <strong class="status-{_esc(status)}">{_esc(status)}</strong> · '
        f"run directory <code>{_esc(run.run_dir)}</code></p>",
        "<h2>Case</h2>",
        "<p>Values as resolved (SI: m, Pa, s).</p>",
        _kv_table(_case_rows(run), header=("key", "value")),
        "<h2>Materials</h2>",
        _materials_table(run),
        "<h2>Mesh</h2>",
        _kv_table(_mesh_rows(run)),
        "<h2>Final values per material</h2>",
        _material_table(run, final),
        _kv_table(_global_final(final)),
        "<h2>Maxima</h2>",
        _maxima_table(stats),
        "<h2>Maps</h2>",
        *(_figure(p) for p in maps),
        "<h2>Plots</h2>",
        *(_figure(p) for p in plots),
        "<h2>Timings</h2>",
        _kv_table(timings, header=("step", "s")),
        "<h2>Versions</h2>",
        _kv_table(_mapping(s.get("versions")), header=("package", "version")),
        "</body>",
        "</html>",
    ]
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return out_html


def _case_rows(run: RunData) -> dict[str, Any]:
    """Flattened geometry, loading, lithiation, model and solver keys (lists abbreviated)."""
    rows: dict[str, Any] = {"model": run.case.get("model", run.summary.get("model", "–"))}
    for section in ("geometry", "loading", "lithiation", "solver", "output"):
        rows.update(_flatten(run.case.get(section), section))
    return rows


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}"))
        return out
    if isinstance(value, list):
        if len(value) <= 4 and all(not isinstance(v, (dict, list)) for v in value):
            return {prefix: ", ".join(_short(v) for v in value)}
        return {prefix: f"{len(value)} items"}
    return {} if value is None else {prefix: _short(value)}


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _materials_table(run: RunData) -> str:
    resolved = run.case.get("materials")
    if not isinstance(resolved, dict) or not resolved:
        return "<p>–</p>"
    head = "".join(f"<th>{_esc(label)}</th>" for label, *_ in _PARAMETERS)
    rows = [f"<tr><th>region</th><th>material</th>{head}<th>sources</th></tr>"]
    for region, mat in resolved.items():
        mat = mat if isinstance(mat, dict) else {"name": mat}
        cells = "".join(f"<td>{_fmt(mat.get(k), sc, f)}</td>" for _, k, sc, f in _PARAMETERS)
        sources = "<br>".join(
            f"{_esc(k)}: {_esc(v)}" for k, v in _mapping(mat.get("sources")).items()
        )
        rows.append(
            f"<tr><td>{_esc(region)}</td><td>{_esc(mat.get('name', region))}</td>{cells}"
            f'<td class="text">{sources or "–"}</td></tr>'
        )
    return "<table>\n" + "\n".join(rows) + "\n</table>"


def _mesh_rows(run: RunData) -> dict[str, Any]:
    s = run.summary
    topology, geometry = run.mesh_arrays()
    volume = run.cell_volumes()
    rows: dict[str, Any] = {
        "cells (tetrahedra)" if topology.shape[1] == 4 else "cells (triangles)": len(topology),
        "vertices": len(geometry),
        "DOFs": s.get("dofs", "–"),
        "element degree": run.case.get("solver", {}).get("degree", "–"),
        "MPI ranks of the run": s.get("mpi_size", "–"),
        "bounding box (µm)": " × ".join(
            f"{(geometry[:, i].max() - geometry[:, i].min()) * 1e6:.3g}" for i in range(3)
        ),
    }
    regions = run.cell_regions()
    if regions is not None:
        for name, tag in run.cell_tags.items():
            mask = regions == tag
            rows[f"{name}: cells, volume fraction"] = (
                f"{int(mask.sum())}, {volume[mask].sum() / volume.sum():.4f}"
            )
    mesh = _mapping(s.get("mesh"))
    for key, value in mesh.items():
        if isinstance(value, dict):
            rows[key.replace("_", " ")] = (
                ", ".join(f"{k} {_short(v)}" for k, v in value.items()) or "–"
            )
        else:
            rows[key.replace("_", " ")] = value
    return rows


def _maxima_table(stats: FieldStats) -> str:
    if not stats.maxima:
        return "<p>No cell fields with regions to search.</p>"
    rows = [
        "<tr><th>quantity</th><th>material (region)</th><th>max</th><th>unit</th>"
        "<th>x, y, z (µm)</th><th>step</th><th>SOC</th><th>t (s)</th></tr>"
    ]
    for m in stats.maxima:
        where = ", ".join(f"{c:.3f}" for c in m.position_um)
        rows.append(
            f"<tr><td>{_esc(m.label)}</td><td>{_esc(m.material)} ({_esc(m.region)})</td>"
            f"<td>{m.value:.4g}</td><td>{_esc(m.unit)}</td><td>{where}</td><td>{m.step}</td>"
            f"<td>{_fmt(m.soc, 1.0, '{:.4g}')}</td><td>{m.time_s:g}</td></tr>"
        )
    return "<table>\n" + "\n".join(rows) + "\n</table>"


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
