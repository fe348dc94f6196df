"""The studies of cases/studies/ on reduced settings: trend directions and orders of magnitude.

Each test loads the bundled sweep file, keeps its physics and shrinks it (fewer cases, fewer
steps, coarser meshes), runs ``ssbmech sweep`` (which also draws the study's figure) and
asserts the trend the study documents in cases/README.md — not tuned numbers. The stack
pressure study is tested in tests/test_sweep.py; the plotting helpers at the end.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from matplotlib.image import imread

from postprocess.errors import RenderError
from postprocess.sweep_plot import plot_sweep
from solver.sweep import SweepSpec
from tests.conftest import ROOT, ssbmech

STUDIES = ROOT / "cases" / "studies"


def run_study(tmp_path: Path, name: str, edit: Callable[[dict[str, Any]], None]) -> Path:
    """Run a reduced copy of cases/studies/<name>.yaml; return the sweep directory."""
    study = yaml.safe_load((STUDIES / f"{name}.yaml").read_text())
    study["base"] = str((STUDIES / study["base"]).resolve())
    edit(study)
    sweep = tmp_path / f"{name}.yaml"
    sweep.write_text(yaml.safe_dump(study, sort_keys=False))
    out = tmp_path / "out"
    ssbmech("sweep", str(sweep), "--out", str(out))
    for plot in study.get("plots", []):
        image = imread(out / plot["file"])
        assert image[..., :3].std() > 0.05  # drawn, not blank
    return out


def table(out: Path) -> dict[str, dict[str, str]]:
    with (out / "sweep.csv").open() as fh:
        rows = {r["case"]: r for r in csv.DictReader(fh)}
    assert all(r["status"] == "complete" for r in rows.values())
    return rows


def history(out: Path, case: str, column: str) -> np.ndarray:
    with (out / case / "history.csv").open() as fh:
        return np.array([float(r[column]) for r in csv.DictReader(fh)])


def test_particle_size_study_critical_radius_falls_with_c_rate(tmp_path: Path) -> None:
    def edit(study: dict[str, Any]) -> None:
        keep = {"r200nm-1C", "r800nm-1C", "r200nm-4C", "r800nm-4C"}
        study["cases"] = [c for c in study["cases"] if c["name"] in keep]
        for case in study["cases"]:
            radius = float(case["geometry.particles.items.0.radius"].split()[0])
            case["geometry.mesh.size"] = case["geometry.mesh.interface_size"] = f"{radius / 2} nm"

    rows = table(run_study(tmp_path, "particle_size", edit))
    eta = {k: float(r["max_particle_energy_index"]) for k, r in rows.items()}
    for rate in ("1C", "4C"):  # η grows steeply with R (∝ R⁵ in the quasi-steady state)
        assert eta[f"r800nm-{rate}"] > 10 * eta[f"r200nm-{rate}"]
    for size in ("r200nm", "r800nm"):  # … and with the C-rate
        assert eta[f"{size}-4C"] > eta[f"{size}-1C"]

    def critical_radius(rate: str) -> float:  # η = 1, log-log interpolation (nm)
        lo, hi = eta[f"r200nm-{rate}"], eta[f"r800nm-{rate}"]
        assert lo < 1 < hi
        return 200.0 * math.exp(math.log(4.0) * math.log(1 / lo) / math.log(hi / lo))

    r1, r4 = critical_radius("1C"), critical_radius("4C")
    assert 100 < r4 < r1 < 1000  # hundreds of nm, smaller at the higher rate
    assert 0.3 < math.log(r1 / r4) / math.log(4.0) < 0.6  # ≈ C^(-2/5)


def test_fixed_gap_study_pressure_rises_linearly_and_alike(tmp_path: Path) -> None:
    def edit(study: dict[str, Any]) -> None:
        study["set"]["lithiation"]["steps"] = 3
        study["cases"] = [c for c in study["cases"] if c["name"] != "micro-r1um-uniform"]

    out = run_study(tmp_path, "fixed_gap_nano_micro", edit)
    rows = table(out)
    final = {k: float(r["stack_pressure_Pa"]) for k, r in rows.items()}
    for case in rows:
        p = history(out, case, "stack_pressure_Pa")
        rise = np.diff(p)
        assert np.all(rise > 0) and rise.max() < 1.5 * rise.min()  # monotonic, nearly linear
    # the fixture dominates: p ≈ k_A H_e ε_stack, tens of kPa at SOC 0.03
    assert all(1e4 < p < 1e6 for p in final.values())
    # linear elasticity: same volume fraction, same rise (no size effect at this model level)
    assert abs(final["micro-r1um"] / final["nano-r50nm"] - 1) < 0.1


def test_film_thickness_study_thinner_films_are_safer(tmp_path: Path) -> None:
    rows = table(run_study(tmp_path, "film_thickness", lambda study: None))
    h = np.array([45e-9, 180e-9, 1e-6])
    sigma = np.array([1.5 * float(r["mean_hydrostatic_Pa_Si"]) for r in rows.values()])
    np.testing.assert_allclose(sigma, sigma[0], rtol=1e-6)  # film stress independent of h
    assert -1.2e9 < sigma[0] < -0.8e9  # ≈ −1 GPa at SOC 0.015
    index = 1.976 * sigma**2 * h / 0.7e6**2  # h/h_c as in the study's plot
    assert index[0] < index[1] < 1 < index[2]  # 45 and 180 nm below h_c, 1 µm above


def test_columnar_gap_study_relieves_lateral_not_axial_load(tmp_path: Path) -> None:
    def edit(study: dict[str, Any]) -> None:
        study["cases"] = [study["cases"][0], study["cases"][-1]]
        study["set"].update({"lithiation.steps": 1, "geometry.mesh.size": "0.35 um"})

    narrow, wide = table(run_study(tmp_path, "columnar_gap", edit)).values()

    def ratio(key: str) -> float:
        return float(wide[key]) / float(narrow[key])

    assert float(wide["stack_pressure_Pa"]) > 1e8  # the axial swelling is not relieved …
    assert 0.6 < ratio("stack_pressure_Pa") < 1.0  # … the pressure falls only mildly
    assert ratio("mean_hydrostatic_Pa_Li6PS5Cl") < 0.9  # separator less compressed
    assert ratio("max_crush_index_Li6PS5Cl") < 0.8
    assert ratio("mean_hydrostatic_Pa_Si") > 1.1  # the columns carry more compression


def test_sweep_plot_parses_units_series_and_derived_columns(tmp_path: Path) -> None:
    path = tmp_path / "sweep.csv"
    path.write_text(
        "case,radius,rate,sigma_Pa,status\n"
        "a,100 nm,1C,1e8,complete\nb,200 nm,1C,4e8,complete\n"
        "c,100 nm,4C,4e8,complete\nd,200 nm,4C,1.6e9,complete\n"
    )
    png = plot_sweep(
        path,
        "radius",
        ["sigma_Pa", "energy = {sigma_Pa}**2 * {radius} / 1e9"],
        tmp_path / "p.png",
        series="rate",
        log=["x", "y"],
        reference=1.0,
    )
    assert imread(png)[..., :3].std() > 0.05
    with pytest.raises(RenderError, match="not an arithmetic expression"):
        plot_sweep(path, "radius", ["bad = __import__('os')"], tmp_path / "q.png")
    with pytest.raises(RenderError, match="not found"):
        plot_sweep(path, "radius", ["x = {nope} * 2"], tmp_path / "q.png")


def test_sweep_plot_spec_is_validated() -> None:
    base = {"base": "x.yaml", "grid": {"a": [1]}, "outputs": ["dofs"]}
    plot = {"file": "p.png", "x": "soc", "y": ["stack_pressure_Pa"], "history": True}
    assert SweepSpec.model_validate({**base, "plots": [plot]}).plots[0].history
    with pytest.raises(ValueError, match="series"):
        SweepSpec.model_validate({**base, "plots": [{**plot, "series": "a"}]})
    with pytest.raises(ValueError, match="file"):
        SweepSpec.model_validate({**base, "plots": [{**plot, "file": "../p.svg"}]})
