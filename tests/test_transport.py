"""Model ``transport-small``: case rules, run directory, mass balance, MPI = serial, D(θ).

Mass balance: SOC from θ (volume average in Si) equals the SOC from the charge passed to
1e-9 (0.1 % required) in every step, serially and on 2 ranks; the 2-rank history equals the
serial one (rtol 1e-6; stresses atol 1 Pa). A tabulated D(θ) is solved by Newton (more than
the 2 iterations of a linear step) and conserves mass too; a constant table reproduces
constant D.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from solver.case import Transport, load_case
from solver.errors import CaseError
from solver.materials import LIBRARY
from solver.physics.transport import TransportProblem
from tests.conftest import ROOT, ssbmech
from tests.geometries import CORE, sphere_octant
from tests.test_run import history

CASE = ROOT / "tests" / "cases" / "tiny_sphere_transport.yaml"
TRANSPORT_COLUMNS = [
    "time_s",
    "soc",
    "soc_charge",
    "stack_pressure_Pa",
    "max_principal_Pa_Si",
    "mean_hydrostatic_Pa_Si",
    "theta_min",
    "theta_max",
    "theta_surface_mean",
    "newton_iterations",
    "dt_s",
]


@pytest.fixture(scope="module")
def transport_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "sphere"
    ssbmech("run", str(CASE), "--out", str(out))
    return out


def test_case_resolves_with_defaults() -> None:
    case = load_case(CASE)
    assert case.model == "transport-small" and case.transport is not None
    assert case.transport.diffusivity == pytest.approx(1e-16)
    assert case.active_surfaces == ["particle_surface"]
    assert case.lithiation.mode == "galvanostatic"
    assert case.lithiation.times()[-1] == pytest.approx(360.0)
    dt_case = load_case(CASE, ["lithiation.steps=null", "lithiation.dt=100 s"])
    assert dt_case.lithiation.times() == pytest.approx([0, 100, 200, 300, 360])
    delithiation = load_case(CASE, ["lithiation.soc_start=0.5", "lithiation.soc_end=0.1"])
    assert delithiation.lithiation.theta_rate == pytest.approx(-1 / 3600)
    assert delithiation.lithiation.duration == pytest.approx(0.4 * 3600)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["transport=null"], "model 'transport-small' needs a transport section"),
        (["lithiation.mode=uniform"], "model 'transport-small' takes lithiation.mode"),
        (["model=uniform-small"], "lithiation.mode 'galvanostatic' needs model 'transport-small'"),
        (["transport.active_surfaces=[interface]"], "transport.active_surfaces: unknown"),
        (["lithiation.dt=10 s"], "give exactly one of steps or dt"),
        (["transport.diffusivity=1e-16 m"], "transport.diffusivity"),
        (["transport.diffusivty=1e-16"], "did you mean 'diffusivity'"),
        (["lithiation.mode=potentiostatic"], "lithiation: unknown mode; allowed: 'uniform'"),
        (["transport.stress_coupling=maybe"], "transport.stress_coupling"),
        (["materials.particles={base: Si, c_max: -1}"], "materials.particles.c_max"),
    ],
)
def test_invalid_model_combinations_are_named(overrides: list[str], expected: str) -> None:
    with pytest.raises(CaseError) as info:
        load_case(CASE, overrides)
    assert str(info.value).startswith(str(CASE)) and expected in str(info.value)


def test_uniform_case_rejects_a_transport_section() -> None:
    with pytest.raises(CaseError, match="used only by model 'transport-small'"):
        load_case(ROOT / "tests" / "cases" / "tiny_rve.yaml", ["transport={diffusivity: 1e-16}"])


def test_run_directory_history_and_mass_balance(transport_run: Path) -> None:
    summary = json.loads((transport_run / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["model"] == "transport-small"
    assert summary["transport"]["flux_mol_m2_s"] > 0
    h = history(transport_run)
    assert all(c in h for c in TRANSPORT_COLUMNS)
    assert len(h["soc"]) == 5 and h["soc"][-1] == pytest.approx(0.1, rel=1e-9)
    np.testing.assert_allclose(h["soc"], h["soc_charge"], rtol=1e-9, atol=1e-12)
    # diffusion-limited: surface richer than the mean, the mean richer than the core minimum
    assert np.all(h["theta_surface_mean"][1:] > h["soc"][1:])
    assert np.all(h["theta_min"][1:] < h["soc"][1:]) and np.all(h["theta_max"][1:] > h["soc"][1:])
    assert np.all(h["newton_iterations"][1:] == 2)  # linear: the second iteration confirms
    # a free sphere lithiating from outside: surface in compression, core in tension
    assert h["max_principal_Pa_Si"][-1] > 0
    xdmf = (transport_run / "fields.xdmf").read_text()
    assert 'Name="theta"' in xdmf and 'Center="Node"' in xdmf


def test_mpi_history_matches_serial(transport_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "mpi"
    ssbmech("run", str(CASE), "--out", str(out), ranks=2)
    assert json.loads((out / "summary.json").read_text())["mpi_size"] == 2
    serial, parallel = history(transport_run), history(out)
    np.testing.assert_allclose(parallel["soc"], parallel["soc_charge"], rtol=1e-9, atol=1e-12)
    for key in TRANSPORT_COLUMNS:  # stresses are GPa; the free sphere's mean σ_h is 0 ± mPa
        atol = 1.0 if key.endswith("_Pa") or "_Pa_" in key else 1e-12
        np.testing.assert_allclose(parallel[key], serial[key], rtol=1e-6, atol=atol, err_msg=key)


def test_interface_flux_in_rve_serial_and_mpi(tmp_path: Path) -> None:
    # Si particles in Li6PS5Cl: the flux enters through the interior facets of ``interface``;
    # each rank counts the facets it owns, so no ghost cells are needed.
    overrides = [
        "model=transport-small",
        "lithiation={mode: galvanostatic, soc_end: 0.02, steps: 2}",
        "transport={diffusivity: 1e-16}",
    ]
    args = [a for o in overrides for a in ("--set", o)]
    runs = {}
    for ranks in (1, 2):
        out = tmp_path / f"rve{ranks}"
        ssbmech(
            "run",
            str(ROOT / "tests" / "cases" / "tiny_rve.yaml"),
            "--out",
            str(out),
            *args,
            ranks=ranks,
        )
        runs[ranks] = (history(out), json.loads((out / "summary.json").read_text()))
    for h, summary in runs.values():
        np.testing.assert_allclose(h["soc"], h["soc_charge"], rtol=1e-9, atol=1e-12)
        area = summary["transport"]["active_surface_area_m2"]
        assert area == pytest.approx(4 * np.pi * (0.2e-6**2 + 0.22e-6**2), rel=0.06)
    (serial, s1), (parallel, s2) = runs[1], runs[2]
    assert s2["transport"]["active_surface_area_m2"] == pytest.approx(
        s1["transport"]["active_surface_area_m2"], rel=1e-12
    )
    for key in ("soc", "theta_min", "theta_max", "theta_surface_mean"):
        np.testing.assert_allclose(parallel[key], serial[key], rtol=1e-6, atol=1e-12)
    # a direct solver works too: θ rows outside the Si are identity rows, not empty ones
    lu = "{ksp_type: preonly, pc_type: lu, pc_factor_mat_solver_type: mumps}"
    out = tmp_path / "rve_lu"
    case = str(ROOT / "tests" / "cases" / "tiny_rve.yaml")
    ssbmech("run", case, "--out", str(out), *args, "--set", f"transport.petsc_options={lu}")
    direct = history(out)
    for key in ("soc", "theta_min", "theta_max", "theta_surface_mean"):
        np.testing.assert_allclose(direct[key], serial[key], rtol=1e-6, atol=1e-12)


def octant_transport(diffusivity: object) -> TransportProblem:
    bundle = sphere_octant(MPI.COMM_WORLD, 1e-6, 0.25e-6)
    settings = Transport.model_validate({"diffusivity": diffusivity})
    return TransportProblem(
        bundle, {CORE: LIBRARY["Si"]}, settings, ["particle_surface"], 0.0, 1e-3
    )


def test_tabulated_diffusivity_newton_and_mass_balance() -> None:
    constant, table = (
        octant_transport(1e-14),
        octant_transport({"theta": [0, 1], "values": [1e-14, 1e-14]}),
    )
    varying = octant_transport({"theta": [0, 0.05, 1], "values": [1e-15, 1e-14, 1e-14]})
    for _ in range(3):
        constant.step(10.0)
        table.step(10.0)
        step = varying.step(10.0)
    np.testing.assert_allclose(table.theta.x.array, constant.theta.x.array, atol=1e-12)
    assert step.newton_iterations > 2
    assert varying.soc() == pytest.approx(0.03, rel=1e-9)
    # slower diffusion at low θ keeps Li nearer the surface
    assert varying.surface_mean() > constant.surface_mean()
