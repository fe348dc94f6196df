"""Stress-enhanced diffusion (``transport.stress_coupling``), solved monolithically.

Verification (free sphere, physics.md §3.3 with the Larché–Cahn flux of §1): for a free
linear-elastic sphere with a linear expansion law, constant D, E, ν, the hydrostatic stress is
σ_h = K (θ̄ − θ), K = 2 E Ω c_max / (9 (1 − ν)), whatever the profile θ(r, t); so ∇σ_h = −K ∇θ
and the coupled flux J/c_max = −D [∇θ − θ(1−θ) Ω/(RT) ∇σ_h] is Fick's law with
D_eff(θ) = D [1 + θ(1−θ) Ω K/(RT)]. The coupled (u, θ, s) solve on a sphere octant (R = 1 µm,
symmetry rollers, h = R/4.5, u P2, θ and s P1, 6 backward-Euler steps to τ = D t/R² = 0.15,
SOC 0 → 0.1; E = 10 GPa, ν = 0.25, Ω = 9e-6 m³/mol, c_max = 3.11e5 mol/m³, T = 298.15 K:
Ω K/(RT) = 30, D_eff/D up to ≈ 4) is compared with an uncoupled Fick solve with the tabulated
D_eff(θ) (31 points, spacing 0.005 in θ) on the same mesh, followed by the one-way mechanics:

- θ: max nodal |θ_coupled − θ_Deff| within 2 % of the D_eff run's θ spread (θ_max − θ_min) at
  the end (measured 1.4 %: the FE σ_h satisfies the exact relation only to the discretisation
  error); the constant-D run differs by > 50 % of the spread (measured 115 %): the coupling
  matters;
- surface hoop stress σ_θ(R) (mean over the surface vertices) at every step within 2 % of its
  peak (measured 0.03 %); constant D differs by > 50 % (measured 160 %);
- Newton: ≤ 6 iterations per step (measured 4–5) with quadratic convergence,
  ‖δ_{k+1}‖ ≤ 10 ‖δ_k‖² once ‖δ_k‖ < 0.1 (scaled unknowns; measured ratio ≈ 0.4–0.6);
- mass balance: SOC from θ equals the charge passed to 1e-9.

Also: case validation, the run path serial and on 2 ranks (free sphere: rigid-body modes), an
MPI test (2 ranks = 1 rank in process) and a restart that reproduces the uninterrupted history.
"""

from __future__ import annotations

import itertools
import json
import signal
from pathlib import Path

import numpy as np
import pytest
from dolfinx import fem
from dolfinx.mesh import create_unit_cube
from mpi4py import MPI
from petsc4py import PETSc

from solver.case import SolverSettings, TabulatedDiffusivity, Transport, load_case
from solver.errors import CaseError, SolverError
from solver.free_energy import R_GAS
from solver.materials import LIBRARY, Material
from solver.materials.expansion import LinearExpansion
from solver.physics.coupled_transport import (
    CoupledTransportProblem,
    effective_molar_volume,
)
from solver.physics.mechanics import ElasticityProblem
from solver.physics.supports import Supports
from solver.physics.transport import TransportProblem
from tests.conftest import ROOT, ssbmech
from tests.geometries import CORE, sphere_octant
from tests.test_restart import restart_and_compare
from tests.test_run import history
from tests.test_verification_dis import radial_hoop
from tests.verification import record

CASE = ROOT / "tests" / "cases" / "tiny_sphere_transport.yaml"
RVE = ROOT / "tests" / "cases" / "tiny_rve.yaml"
RVE_TRANSPORT = [
    "model=transport-small",
    "lithiation={mode: galvanostatic, soc_end: 0.02, steps: 2}",
    "loading.mode=spring",
    "loading.spring_stiffness=1e13",
]
R, D, C_MAX, OMEGA, TEMPERATURE = 1e-6, 1e-14, 3.11e5, 9e-6, 298.15
E, NU = 10e9, 0.25
T_END = 0.15 * R**2 / D  # τ = 0.15 (s)
RATE = 0.1 / T_END  # SOC 0.1 at the end (s-1)
K = 2 * E * OMEGA * C_MAX / (9 * (1 - NU))  # σ_h = K (θ̄ − θ) (Pa)
A = OMEGA * K / (R_GAS * TEMPERATURE)  # D_eff = D (1 + A θ(1−θ))
MAT = Material(
    name="Si-linear",
    E=E,
    nu=NU,
    expansion=LinearExpansion(partial_molar_volume=OMEGA, c_max=C_MAX),
)
ROLLERS = Supports(rollers={"x0": 0, "y0": 1, "z0": 2})
SETUP = (
    "free sphere octant R = 1 µm, h = R/4.5, u P2, θ/s P1, 6 steps to τ = 0.15 (SOC 0.1), "
    f"E = 10 GPa, ν = 0.25, Ω = 9e-6 m³/mol, ΩK/RT = {A:.1f}"
)


def surface_points(comm: MPI.Comm, x: np.ndarray) -> np.ndarray:
    """The mesh vertices on r = R, gathered (each once) over the ranks of ``comm``."""
    points = np.concatenate(comm.allgather(x[np.abs(np.linalg.norm(x, axis=1) - R) < 1e-9 * R]))
    _, first = np.unique(np.round(points / R, 9), axis=0, return_index=True)
    return points[np.sort(first)]


def lithiate(
    kind: str, comm: MPI.Comm, divisions: float = 4.5, steps: int = 6
) -> tuple[TransportProblem | CoupledTransportProblem, np.ndarray, list[list[float]]]:
    """θ problem after ``steps`` steps, surface σ_θ (Pa) per step and Newton increments.

    ``kind``: ``coupled`` (monolithic stress-enhanced diffusion), ``deff`` (Fick with the
    tabulated D_eff(θ), then the mechanics) or ``fick`` (constant D, then the mechanics).
    """
    bundle = sphere_octant(comm, R, R / divisions)
    materials = {CORE: MAT}
    settings = SolverSettings(degree=2)
    mechanics = ElasticityProblem(bundle, materials, ROLLERS, settings)
    problem: TransportProblem | CoupledTransportProblem
    if kind == "coupled":
        transport = Transport(diffusivity=D, stress_coupling=True, temperature=TEMPERATURE)
        problem = CoupledTransportProblem(
            bundle, materials, transport, settings, mechanics, ["particle_surface"], 0.0, RATE
        )
    else:
        theta = np.linspace(0.0, 0.15, 31)
        table = TabulatedDiffusivity(
            theta=list(theta), values=list(D * (1 + A * theta * (1 - theta)))
        )
        transport = Transport(diffusivity=table if kind == "deff" else D)
        problem = TransportProblem(bundle, materials, transport, ["particle_surface"], 0.0, RATE)
    points = surface_points(comm, bundle.mesh.geometry.x)
    hoop, increments = [], []
    for _ in range(steps):
        problem.step(T_END / steps)
        if isinstance(problem, CoupledTransportProblem):
            increments.append(problem.increments)
        else:
            mechanics.theta.interpolate(problem.theta)
            mechanics.solve_current()
        hoop.append(radial_hoop(mechanics, points)[1])
    return problem, np.array(hoop), increments


@pytest.mark.verification
def test_free_sphere_equals_fick_with_stress_enhanced_diffusivity() -> None:
    comm = MPI.COMM_WORLD
    coupled, hoop, increments = lithiate("coupled", comm)
    deff, hoop_deff, _ = lithiate("deff", comm)
    fick, hoop_fick, _ = lithiate("fick", comm)
    assert isinstance(coupled, CoupledTransportProblem)

    def max_difference(a: TransportProblem | CoupledTransportProblem) -> float:
        diff = np.abs(a.theta.x.array[a.active_dofs] - deff.theta.x.array[deff.active_dofs])
        return float(comm.allreduce(diff.max(), op=MPI.MAX))

    lo, hi = deff.theta_range()
    spread, peak = hi - lo, float(np.abs(hoop_deff).max())
    e_theta, e_theta_fick = max_difference(coupled) / spread, max_difference(fick) / spread
    e_hoop = float(np.abs(hoop - hoop_deff).max()) / peak
    e_hoop_fick = float(np.abs(hoop_fick - hoop_deff).max()) / peak
    iterations = [len(i) for i in increments]
    ratios = [
        b / a**2 for inc in increments for a, b in itertools.pairwise(inc) if a < 0.1 and b > 0
    ]
    print(
        f"θ: coupled vs D_eff {e_theta:.4f}, constant D {e_theta_fick:.3f} of spread {spread:.4f}"
    )
    print(f"σ_θ(R): coupled {hoop / 1e6} MPa, D_eff {hoop_deff / 1e6} MPa")
    print(f"σ_θ(R) error {e_hoop:.2e}, constant D {e_hoop_fick:.2f} of peak {peak:.3g} Pa")
    print(f"Newton iterations {iterations}, ‖δ_k+1‖/‖δ_k‖² {np.round(ratios, 2)}")

    common = dict(reference="physics.md §1, §3.3: free sphere, D_eff = D[1 + θ(1−θ)ΩK/RT]")
    record(
        "stress_coupling_theta",
        title="Stress-enhanced diffusion, free sphere: θ profile vs Fick with D_eff(θ)",
        quantity="max nodal |θ − θ_Deff| at the end (-)",
        measured=max_difference(coupled),
        expected=0.0,
        scale=spread,
        tolerance=0.02,
        setup=SETUP + f"; error relative to the θ spread {spread:.4f} (constant D: "
        f"{e_theta_fick:.2f})",
        **common,
    )
    record(
        "stress_coupling_hoop",
        title="Stress-enhanced diffusion, free sphere: surface hoop stress history",
        quantity="max over steps of |σ_θ(R) − σ_θ,Deff(R)| (Pa)",
        measured=float(np.abs(hoop - hoop_deff).max()),
        expected=0.0,
        scale=peak,
        tolerance=0.02,
        setup=SETUP + f"; error relative to the peak {peak:.3g} Pa (constant D: {e_hoop_fick:.2f})",
        **common,
    )
    record(
        "stress_coupling_mass_balance",
        title="Stress-enhanced diffusion: mass balance",
        quantity="SOC from θ at the end (-)",
        measured=coupled.soc(),
        expected=RATE * T_END,
        tolerance=1e-9,
        setup=SETUP + f"; Newton iterations per step {iterations}",
        **common,
    )
    assert e_theta < 0.02 and e_hoop < 0.02
    assert e_theta_fick > 0.5 and e_hoop_fick > 0.5  # the coupling matters
    assert max(iterations) <= 6
    assert ratios and max(ratios) < 10  # quadratic convergence
    assert coupled.soc() == pytest.approx(RATE * T_END, rel=1e-9)
    # the projected σ_h is the free-sphere relation σ_h = K (θ̄ − θ) up to discretisation
    s = coupled.hydrostatic().x.array[coupled.active_dofs]
    theta = coupled.theta.x.array[coupled.active_dofs]
    residual = np.abs(s - K * (coupled.soc() - theta)).max()
    assert comm.allreduce(residual, op=MPI.MAX) < 0.05 * K * spread


@pytest.mark.mpi
def test_coupled_solve_in_parallel_matches_serial() -> None:
    def summary(comm: MPI.Comm) -> np.ndarray:
        problem, _, _ = lithiate("coupled", comm, divisions=3.0, steps=2)
        assert isinstance(problem, CoupledTransportProblem)
        s = problem.hydrostatic()
        s_norm = comm.allreduce(fem.assemble_scalar(fem.form(s * s * problem.dx)), op=MPI.SUM)
        return np.array([problem.soc(), problem.surface_mean(), *problem.theta_range(), s_norm])

    parallel, serial = summary(MPI.COMM_WORLD), summary(MPI.COMM_SELF)
    np.testing.assert_allclose(parallel, serial, rtol=1e-8)


def test_uniform_state_failed_step_and_retry() -> None:
    # uniform θ: uniform stress (here 0, a free sphere), so s = 0 and no drift; a failed
    # Newton solve leaves the last accepted state, and the retried step conserves mass
    bundle = sphere_octant(MPI.COMM_WORLD, R, R / 3)
    mechanics = ElasticityProblem(bundle, {CORE: MAT}, ROLLERS, SolverSettings(degree=1))
    settings = Transport(diffusivity=D, stress_coupling=True)
    problem = CoupledTransportProblem(
        bundle, {CORE: MAT}, settings, SolverSettings(), mechanics, ["particle_surface"], 0.2, RATE
    )
    assert problem.last_step.newton_iterations <= 2  # θ fixed: linear in (u, s)
    np.testing.assert_allclose(problem.hydrostatic().x.array, 0.0, atol=1e-6 * K)
    before = problem.state.x.array.copy()
    problem.solver.max_it = 1
    with pytest.raises(SolverError, match="did not converge"):
        problem.step(T_END / 4)
    np.testing.assert_array_equal(problem.state.x.array, before)
    np.testing.assert_allclose(problem.theta.x.array[problem.active_dofs], 0.2, atol=1e-12)
    problem.solver.max_it = 25
    problem.step(T_END / 4)
    assert problem.soc() == pytest.approx(0.2 + RATE * T_END / 4, rel=1e-9)


@pytest.mark.parametrize("theta", [0.0, 0.1, 0.5, 0.9])
def test_effective_molar_volume_is_the_chemical_strain_slope(theta: float) -> None:
    # Ω_eff = 3 β'(θ)/c_max: Ω for the linear law, (1 + 2.8θ)^(-2/3) Ω for LixSi's table
    mesh = create_unit_cube(MPI.COMM_SELF, 1, 1, 1)
    th = fem.Constant(mesh, PETSc.ScalarType(theta))
    for material, expected in (
        (MAT, OMEGA),
        (LIBRARY["Si"], 2.8 / C_MAX * (1 + 2.8 * theta) ** (-2 / 3)),
    ):
        expr = fem.Expression(effective_molar_volume(material, th), np.zeros((1, 3)))
        value = float(expr.eval(np.array([0], dtype=np.int32)).ravel()[0])
        lo, hi = max(theta - 1e-6, 0.0), theta + 1e-6
        slope = (material.chemical_strain(hi) - material.chemical_strain(lo)) / (hi - lo)
        assert value == pytest.approx(expected, rel=1e-9)
        assert value == pytest.approx(3 * slope / C_MAX, rel=1e-6)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["transport.stress_coupling=maybe"], "transport.stress_coupling"),
        (["transport.temperature=-3 K"], "transport.temperature"),
        (["transport.temperature=3 m"], "transport.temperature"),
        (["transport.stres_coupling=true"], "did you mean 'stress_coupling'"),
        (
            [*RVE_TRANSPORT, "transport={diffusivity: 1e-16, stress_coupling: true}"],
            "transport.stress_coupling with model 'transport-small' supports loading.mode "
            "'free', 'pressure' or 'fixed_gap'",
        ),
        (
            ["transport.stress_coupling=true", "model=uniform-small"],
            "transport.stress_coupling needs model 'transport-small' or 'finite'",
        ),
    ],
)
def test_bad_coupling_settings_are_named(overrides: list[str], expected: str) -> None:
    case = RVE if overrides[0] in RVE_TRANSPORT else CASE
    with pytest.raises(CaseError, match=expected):
        load_case(case, overrides)


def test_case_defaults_and_units() -> None:
    transport = load_case(CASE).transport
    assert transport is not None and not transport.stress_coupling
    assert transport.temperature == pytest.approx(298.15)
    warm = load_case(CASE, ["transport.stress_coupling=true", "transport.temperature=60 degC"])
    assert warm.transport is not None and warm.transport.temperature == pytest.approx(333.15)


def test_run_serial_and_on_two_ranks(tmp_path: Path) -> None:
    # the free sphere of the tiny case: rigid-body modes removed from every Newton update
    runs = {}
    for ranks in (1, 2):
        out = tmp_path / f"run{ranks}"
        ssbmech(
            "run",
            str(CASE),
            "--out",
            str(out),
            "--set",
            "transport.stress_coupling=true",
            ranks=ranks,
        )
        runs[ranks] = (history(out), json.loads((out / "summary.json").read_text()))
    for h, summary in runs.values():
        assert summary["status"] == "complete" and summary["transport"]["stress_coupling"]
        np.testing.assert_allclose(h["soc"], h["soc_charge"], rtol=1e-9, atol=1e-12)
        assert np.all(h["newton_iterations"][1:] <= 8)
    (serial, _), (parallel, _) = runs[1], runs[2]
    for key in ("soc", "theta_min", "theta_max", "theta_surface_mean"):
        np.testing.assert_allclose(parallel[key], serial[key], rtol=1e-7, atol=1e-12)
    for key in ("max_principal_Pa_Si", "mean_hydrostatic_Pa_Si"):
        np.testing.assert_allclose(parallel[key], serial[key], rtol=1e-6, atol=1e3)


def test_coupled_restart_equals_uninterrupted_run(tmp_path: Path) -> None:
    sets = ["transport.stress_coupling=true", "lithiation.steps=12", "output.checkpoint_every=1000"]
    restart_and_compare(CASE, sets, tmp_path, signal.SIGTERM)


def test_fixed_gap_rve_with_matrix(tmp_path: Path) -> None:
    # Si particles in Li6PS5Cl (flux through the interior interface), rigid platen at the
    # preload's position: the initial state equals the one-way run's, the gap stays fixed
    base = ["--set", "model=transport-small", "--set", RVE_TRANSPORT[1]]
    base += ["--set", "loading.mode=fixed_gap"]
    runs = {}
    for coupled in (True, False):
        out = tmp_path / f"coupled{coupled}"
        transport = f"transport={{diffusivity: 1e-16, stress_coupling: {str(coupled).lower()}}}"
        ssbmech("run", str(RVE), "--out", str(out), *base, "--set", transport)
        runs[coupled] = history(out)
    h, one_way = runs[True], runs[False]
    np.testing.assert_allclose(h["soc"], h["soc_charge"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(h["stack_strain"], h["stack_strain"][0], rtol=1e-9)
    for key in ("stack_pressure_Pa", "max_principal_Pa_Si", "mean_hydrostatic_Pa_Si"):
        assert h[key][0] == pytest.approx(one_way[key][0], rel=1e-6), key
    assert np.all(np.diff(h["stack_pressure_Pa"]) > 0)  # Si swells against the platen
