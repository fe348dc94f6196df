"""End to end: run directory contract, loading modes, refusal to overwrite, MPI = serial."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from solver.materials import LIBRARY
from tests.conftest import ROOT, TINY_CASE, ssbmech

CONTRACT_COLUMNS = [
    "time_s",
    "soc",
    "stack_pressure_Pa",
    "stack_strain",
    "max_principal_Pa_Si",
    "mean_hydrostatic_Pa_Si",
    "max_crack_risk_Si",
    "max_principal_Pa_Li6PS5Cl",
    "mean_hydrostatic_Pa_Li6PS5Cl",
    "max_crack_risk_Li6PS5Cl",
    "newton_iterations",
    "dt_s",
]


def history(run_dir: Path) -> dict[str, np.ndarray]:
    with (run_dir / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def test_run_directory_is_complete(tiny_run_dir: Path) -> None:
    for name in (
        "case.resolved.yaml",
        "mesh.msh",
        "tags.json",
        "fields.xdmf",
        "fields.h5",
        "history.csv",
        "summary.json",
    ):
        assert (tiny_run_dir / name).is_file(), name
    summary = json.loads((tiny_run_dir / "summary.json").read_text())
    assert summary["status"] == "complete"
    assert summary["dofs"] > 0 and summary["mpi_size"] == 1
    assert set(summary["versions"]) >= {"ssbmech", "dolfinx", "petsc", "gmsh"}
    h = history(tiny_run_dir)
    assert all(c in h for c in CONTRACT_COLUMNS)
    assert len(h["soc"]) == 3 and h["soc"][-1] == pytest.approx(0.02)
    # pressure mode: the reaction on the top face equals the applied stack pressure
    np.testing.assert_allclose(h["stack_pressure_Pa"], 50e6, rtol=1e-6)
    # swelling Si is compressed; the electrolyte around it sees tension
    assert h["mean_hydrostatic_Pa_Si"][-1] < h["mean_hydrostatic_Pa_Si"][0] < 0
    assert h["max_principal_Pa_Li6PS5Cl"][-1] > 0 and h["stack_strain"][-1] > h["stack_strain"][0]
    resolved = yaml.safe_load((tiny_run_dir / "case.resolved.yaml").read_text())
    assert resolved["loading"]["stack_pressure"] == 50e6
    xdmf = (tiny_run_dir / "fields.xdmf").read_text()
    for field in (
        "u",
        "theta",
        "sigma",
        "von_mises",
        "hydrostatic",
        "max_principal",
        "crack_risk",
        "region",
    ):
        assert f'Name="{field}"' in xdmf


def test_existing_run_directory_is_refused_unless_forced(tiny_run_dir: Path) -> None:
    res = ssbmech("run", str(TINY_CASE), "--out", str(tiny_run_dir), check=False)
    assert res.returncode == 2
    assert "already exists" in res.stderr and "--force" in res.stderr
    assert json.loads((tiny_run_dir / "summary.json").read_text())["status"] == "complete"


@pytest.mark.slow
def test_fixed_gap_and_spring_bracket_pressure_mode(tmp_path: Path) -> None:
    runs = {}
    for mode, extra in (("fixed_gap", []), ("spring", ["loading.spring_stiffness=1e14 Pa/m"])):
        out = tmp_path / mode
        ssbmech(
            "run",
            str(TINY_CASE),
            "--out",
            str(out),
            "--set",
            f"loading.mode={mode}",
            *(a for e in extra for a in ("--set", e)),
        )
        runs[mode] = history(out)
    gap, spring = runs["fixed_gap"], runs["spring"]
    # both start at the preload; a fixed gap stiffens the response more than a spring
    assert gap["stack_pressure_Pa"][0] == pytest.approx(50e6, rel=1e-6)
    assert spring["stack_pressure_Pa"][0] == pytest.approx(50e6, rel=1e-6)
    assert gap["stack_pressure_Pa"][-1] > spring["stack_pressure_Pa"][-1] > 50e6
    np.testing.assert_allclose(gap["stack_strain"], gap["stack_strain"][0], rtol=1e-8)
    # spring: the pressure rise is the fixture stiffness times the platen travel
    rise = spring["stack_pressure_Pa"][-1] - 50e6
    travel = (spring["stack_strain"][-1] - spring["stack_strain"][0]) * 1e-6  # Lz = 1 µm
    assert rise == pytest.approx(1e14 * travel, rel=1e-3)


@pytest.mark.slow
def test_mpi_history_matches_serial(tiny_run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "mpi"
    ssbmech("run", str(TINY_CASE), "--out", str(out), ranks=2)
    assert json.loads((out / "summary.json").read_text())["mpi_size"] == 2
    serial, parallel = history(tiny_run_dir), history(out)
    for key in CONTRACT_COLUMNS:
        np.testing.assert_allclose(parallel[key], serial[key], rtol=1e-6, atol=1e-3, err_msg=key)


COARSE = {  # per bundled case: overrides that make it run in seconds (one step, coarse mesh)
    # finite strain + plasticity: one Newton-solved step to SOC 0.1 (the full run: make demo)
    "si_lpscl_rve": [
        "geometry.mesh.size=0.2 um",
        "geometry.mesh.interface_size=0.08 um",
        "lithiation.soc_end=0.1",
    ],
    "si_lpscl_rve_2d": ["geometry.mesh.size=0.2 um", "geometry.mesh.interface_size=0.05 um"],
    "usi_li3ps4_75MPa": [
        "geometry.box=[5 um, 5 um, 5 um]",
        "geometry.mesh.size=1.2 um",
        "geometry.mesh.interface_size=0.5 um",
        "solver.degree=1",
    ],
    "si_c_yolkshell": [
        "geometry.mesh.size=0.15 um",
        "geometry.mesh.interface_size=0.03 um",
        "solver.degree=1",
    ],
    # the graded film meshes are coarse already (a few hundred cells)
    "si_film_llzto": [],
    "si_film_llzto_cycle": [  # a protocol: one charge and one discharge step
        "lithiation={mode: protocol, steps: ['charge 1C to soc 0.1 in 1 step', "
        "'discharge 1C to soc 0.05 in 1 step']}",
    ],
    "si_film_lipon": [],
    "usi_sheet_lpscl": [],
    "columnar_si_lpscl": ["geometry.mesh.size=0.5 um", "geometry.mesh.interface_size=0.25 um"],
    "si_rods_lps": ["geometry.mesh.size=0.4 um", "geometry.mesh.interface_size=0.2 um"],
}


def coarse_overrides(case: Path) -> list[str]:
    return [a for o in ["lithiation.steps=1", *COARSE[case.stem]] for a in ("--set", o)]


def test_every_bundled_case_has_a_coarse_setting() -> None:
    assert {p.stem for p in (ROOT / "cases").glob("*.yaml")} == set(COARSE)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted((ROOT / "cases").glob("*.yaml")), ids=lambda p: p.stem)
def test_bundled_case_runs_coarse(case: Path, tmp_path: Path) -> None:
    out = tmp_path / case.stem
    ssbmech("run", str(case), "--out", str(out), *coarse_overrides(case))
    assert json.loads((out / "summary.json").read_text())["status"] == "complete"


def assert_histories_match(serial: dict[str, np.ndarray], parallel: dict[str, np.ndarray]) -> None:
    """Every history column of a parallel run equals the serial one (Krylov counts aside)."""
    assert set(parallel) == set(serial)
    # absolute tolerances at 1e-7 of each quantity's scale (the solver's rtol is 1e-10):
    # stresses on the largest stress, crack risks on that stress over the strength, yield and
    # crushing indices (σ_vm/σ_Y, −σ_h/H) on that stress over σ_Y (≤ H), probabilities on 1
    stress = max(np.abs(v).max() for k, v in serial.items() if "_Pa" in k)
    for key in set(serial) - {"krylov_iterations"}:
        scale = np.abs(serial[key]).max()
        if "_Pa" in key:
            scale = stress
        elif key.startswith("max_crack_risk_"):
            strength = LIBRARY[key.removeprefix("max_crack_risk_")].fracture_strength
            assert strength is not None
            scale = stress / strength
        elif key.startswith(("max_yield_index_", "max_crush_index_")):
            crush_yield = LIBRARY[key.split("_index_")[1]].crush_yield
            assert crush_yield is not None
            scale = stress / crush_yield
        elif key.startswith("failure_probability_"):
            scale = 1.0  # a probability: absolute tolerance
        np.testing.assert_allclose(
            parallel[key], serial[key], rtol=1e-6, atol=1e-7 * scale, err_msg=key
        )


@pytest.mark.slow
def test_film_case_mpi_matches_serial(tmp_path: Path) -> None:
    case = ROOT / "cases" / "si_film_llzto.yaml"
    runs = {}
    for ranks in (1, 2):
        out = tmp_path / f"np{ranks}"
        ssbmech("run", str(case), "--out", str(out), "--set", "lithiation.steps=2", ranks=ranks)
        runs[ranks] = history(out)
        summary = json.loads((out / "summary.json").read_text())
        assert summary["mpi_size"] == ranks and summary["status"] == "complete"
        achieved = summary["mesh"]["thicknesses_achieved"]
        assert achieved == pytest.approx({"electrolyte": 1e-3, "film": 180e-9}, rel=1e-9)
    assert_histories_match(runs[1], runs[2])
    # the film is clamped in-plane by the laterally infinite pellet: σ_h = 2/3 (−M_f β)
    assert runs[1]["mean_hydrostatic_Pa_Si"][-1] == pytest.approx(-0.896e9, rel=0.01)


@pytest.mark.slow
def test_columnar_case_mpi_matches_serial(tmp_path: Path) -> None:
    case = ROOT / "cases" / "si_rods_lps.yaml"
    depth = ["--set", "geometry.penetration=1 um"]  # exercise the gap fill as well
    runs = {}
    for ranks in (1, 2):
        out = tmp_path / f"np{ranks}"
        ssbmech("run", str(case), "--out", str(out), *coarse_overrides(case), *depth, ranks=ranks)
        runs[ranks] = history(out)
        summary = json.loads((out / "summary.json").read_text())
        assert summary["mpi_size"] == ranks and summary["status"] == "complete"
        assert summary["mesh"]["dimensions_achieved"]["penetration"] == pytest.approx(1e-6)
    assert_histories_match(runs[1], runs[2])


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "geometry.particles.items.1.center=[0.35 um, 0.35 um, 0.4 um]",
            "geometry.particles.items.1: particles 0 and 1 overlap",
        ),
        (
            "geometry.particles.items.0.center=[0.1 um, 0.3 um, 0.35 um]",
            "geometry.particles.items.0.center: particle 0",
        ),
        (
            "geometry.particles={mode: random, volume_fraction: 0.6, radius_mean: 0.2 um, "
            "min_gap: 0.05 um}",
            "geometry.particles.volume_fraction: ",
        ),
    ],
)
def test_impossible_geometry_exits_2_naming_the_key(
    override: str, expected: str, tmp_path: Path
) -> None:
    out = tmp_path / "bad"
    res = ssbmech("run", str(TINY_CASE), "--out", str(out), "--set", override, check=False)
    assert res.returncode == 2, res.stderr
    assert f"{TINY_CASE}: {expected}" in res.stderr
    assert "Traceback" not in res.stderr
    assert json.loads((out / "summary.json").read_text())["status"] == "failed"
