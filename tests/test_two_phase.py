"""``transport.free_energy: regular_solution``: case rules, binodal, run, MPI = serial, restart.

The verification of the physics (binodal plateaus, front position, mass, ideal limit = Fick)
is tests/test_verification_two_phase.py; here the plumbing: clear errors for bad input, the
binodal/spinodal formulas, a run of the tiny sphere through the CLI (mass balance to 1e-9), Si
particles in an electrolyte on 1 and 2 ranks (equal histories), and a killed-and-resumed run
equal to the uninterrupted one (θ checkpointed; μ follows from θ at the start of every step).
"""

from __future__ import annotations

import json
import math
import signal
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from solver.case import RegularSolution, Transport, load_case
from solver.errors import CaseError, SolverError
from solver.free_energy import R_GAS, binodal, spinodal
from solver.physics.two_phase import TwoPhaseProblem
from tests.conftest import ROOT, ssbmech
from tests.geometries import CORE, box
from tests.test_restart import restart_and_compare
from tests.test_run import history
from tests.test_transport import TRANSPORT_COLUMNS
from tests.test_verification_two_phase import MAT

CASE = ROOT / "tests" / "cases" / "tiny_sphere_transport.yaml"
# the default Ω_rs = 7.55 kJ/mol; interface width sqrt(κ/Ω_rs) ≈ 0.23 µm ≈ the 0.2 µm cells
TWO_PHASE = [
    "transport.free_energy={kind: regular_solution, gradient_energy: 4e-10 J*m**2/mol}",
    "lithiation.soc_start=0.0085",
    "lithiation.soc_end=0.3",
]


def sets(overrides: list[str]) -> list[str]:
    return [a for o in overrides for a in ("--set", o)]


def test_case_resolves_with_literature_defaults() -> None:
    case = load_case(CASE, TWO_PHASE)
    assert case.transport is not None
    energy = case.transport.free_energy
    assert isinstance(energy, RegularSolution)
    assert energy.interaction == 7.55e3 and case.transport.temperature == 298.15
    assert energy.gradient_energy == pytest.approx(4e-10)
    theta_a, theta_b = binodal(energy.chi(case.transport.temperature))
    assert theta_b * 3.75 == pytest.approx(3.5, abs=0.01)  # x = 3.5 for c_max of Li15Si4
    assert theta_a == pytest.approx(0.067, abs=1e-3) and theta_b == pytest.approx(1 - theta_a)
    units = load_case(
        CASE,
        [
            *TWO_PHASE,
            "transport.free_energy.interaction=7.5 kJ/mol",
            "transport.temperature=330 K",
        ],
    )
    assert units.transport is not None and units.transport.free_energy.kind == "regular_solution"
    assert units.transport.free_energy.interaction == pytest.approx(7500.0)
    ideal = load_case(CASE)  # the default stays Fick
    assert ideal.transport is not None and ideal.transport.free_energy.kind == "ideal"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["lithiation.soc_start=0"], "needs 0 < lithiation.soc_start < 1 (got 0;"),
        (["lithiation.soc_end=1"], "needs 0 < lithiation.soc_end < 1"),
        (
            ["transport.free_energy.gradient_energy=0"],
            "exceeds 2RT = 4957.91 J/mol (miscibility gap): give gradient_energy > 0",
        ),
        (["transport.free_energy.interaction=12 kJ"], "transport.free_energy.interaction"),
        (["transport.temperature=-3"], "transport.temperature"),
        (["transport.free_energy.kind=regular"], "unknown kind 'regular'; did you mean"),
        (["transport.free_energy.omega=1"], "unknown key (allowed: gradient_energy, interaction"),
        (["transport.free_energy={kind: regular_solution}"], "gradient_energy: required key"),
    ],
)
def test_bad_free_energy_input_is_named(overrides: list[str], expected: str) -> None:
    with pytest.raises(CaseError) as info:
        load_case(CASE, TWO_PHASE + overrides)
    assert str(info.value).startswith(str(CASE)) and expected in str(info.value)


def test_soc_start_error_names_the_binodal() -> None:
    with pytest.raises(CaseError, match=r"the c-Si \(α\) binodal here is θ_α = 0.06\d+"):
        load_case(CASE, [*TWO_PHASE, "lithiation.soc_start=0"])


@pytest.mark.parametrize("chi", [2.05, 3.0, 4.84, 10.0])
def test_binodal_is_the_common_tangent(chi: float) -> None:
    theta_a, theta_b = binodal(chi)
    lo, hi = spinodal(chi)
    assert 0 < theta_a < lo < 0.5 < hi < theta_b < 1
    assert math.log(theta_a / (1 - theta_a)) == pytest.approx(chi * (2 * theta_a - 1), rel=1e-12)
    assert lo * (1 - lo) == pytest.approx(1 / (2 * chi), rel=1e-12)
    with pytest.raises(ValueError, match="no miscibility gap"):
        binodal(2.0)
    assert R_GAS * 298.15 * 2 == pytest.approx(4957.91, abs=0.01)


@pytest.fixture(scope="module")
def two_phase_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "two_phase"
    ssbmech("run", str(CASE), "--out", str(out), *sets([*TWO_PHASE, "lithiation.steps=6"]))
    return out


def test_run_directory_and_mass_balance(two_phase_run: Path) -> None:
    summary = json.loads((two_phase_run / "summary.json").read_text())
    assert summary["status"] == "complete"
    h = history(two_phase_run)
    assert len(h["soc"]) == 7 and h["soc"][-1] == pytest.approx(0.3, rel=1e-9)
    np.testing.assert_allclose(h["soc"], h["soc_charge"], rtol=1e-9, atol=1e-12)
    assert np.all(h["theta_min"] > 0) and np.all(h["theta_max"] < 1)
    assert np.all(h["theta_surface_mean"][1:] > h["soc"][1:])  # Li enters at the surface
    assert np.all(h["newton_iterations"][1:] > 2)  # nonlinear (ln θ, χ θ)


def test_rve_with_electrolyte_serial_equals_two_ranks(tmp_path: Path) -> None:
    # Si particles in Li6PS5Cl: flux through interior facets; the electrolyte's θ, μ DOFs are
    # held at 0 (identity rows, which the direct LU needs); 2 ranks = serial
    overrides = [
        "model=transport-small",
        "lithiation={mode: galvanostatic, soc_start: 0.0085, soc_end: 0.05, steps: 3}",
        "transport={diffusivity: 1e-16, free_energy: {kind: regular_solution, "
        "gradient_energy: 1e-10}}",
    ]
    runs = {}
    for ranks in (1, 2):
        out = tmp_path / f"rve{ranks}"
        case = ROOT / "tests" / "cases" / "tiny_rve.yaml"
        ssbmech("run", str(case), "--out", str(out), *sets(overrides), ranks=ranks)
        runs[ranks] = history(out)
        assert json.loads((out / "summary.json").read_text())["mpi_size"] == ranks
    serial, parallel = runs[1], runs[2]
    for h in (serial, parallel):
        np.testing.assert_allclose(h["soc"], h["soc_charge"], rtol=1e-9, atol=1e-12)
        assert np.all(h["newton_iterations"][1:] > 2)
    for key in TRANSPORT_COLUMNS[:-2]:  # not the iteration counts
        if key in serial:
            atol = 1.0 if "_Pa" in key else 1e-9
            np.testing.assert_allclose(
                parallel[key], serial[key], rtol=1e-6, atol=atol, err_msg=key
            )


def test_restart_equals_uninterrupted_run(tmp_path: Path) -> None:
    overrides = [*TWO_PHASE, "lithiation.steps=20", "output.checkpoint_every=1000"]
    restart_and_compare(CASE, overrides, tmp_path, signal.SIGTERM)


def test_saturated_surface_failure_names_the_c_rate() -> None:
    # flux number j L/(c_max D) = 5: the surface saturates (mobility D θ(1 − θ) → 0) long
    # before the slab fills; the failing step says why instead of only "did not converge"
    length, cells, diffusivity = 1e-6, 20, 1e-14
    bundle = box(MPI.COMM_WORLD, (length, length / cells, length / cells), (cells, 1, 1))
    settings = Transport.model_validate(
        {
            "diffusivity": diffusivity,
            "free_energy": {"kind": "regular_solution", "interaction": 0, "gradient_energy": 0},
        }
    )
    rate = 5 * diffusivity / length**2
    problem = TwoPhaseProblem(bundle, {CORE: MAT}, settings, ["x1"], 0.1, rate)
    with pytest.raises(SolverError, match=r"lower lithiation\.c_rate or raise"):
        for _ in range(200):
            problem.step(0.005 / rate)
    assert problem.theta_range()[1] > 0.9999 and problem.soc() < 0.5
