"""Periodic RVE mechanics (solver/physics/periodic.py) against exact solutions.

Homogeneous cell (Si everywhere, the particle crossing a corner so images are meshed), uniform
θ: ``free`` → σ = 0 (|σ| < 1e-6 E β) and E = β I; ``pressure`` p → laterally confined
solution E_zz = (3Kβ − p)/(λ + 2μ), σ_zz = −p, σ_xx = σ_yy = λ E_zz − 3Kβ (to 1e-6);
``fixed_gap``/``spring`` follow their laws. Periodicity: u(x + L_i e_i) − u(x) = E L_i e_i on
the heterogeneous cell. Periodic vs non-periodic: a simple cubic array of Si particles in
Li6PS5Cl is one particle per periodic cell, or 2×2×2 particles in a box with rollers and a
rigid platen (mirror planes of the array), loading fixed_gap: the mean Si hydrostatic stress
agrees within 2 % and the stack pressure within 0.5 % (P1; the meshes differ: the periodic
particle is cut into pieces by the faces). Measured in the test (bulk size 0.2 µm): 0.31 % and
0.03 %. Single-cell box, bulk size 2.5 × interface size: 2.0 / 0.13 / 0.05 % at
interface sizes 0.1 / 0.06 / 0.04 µm for σ_h, 0.04 / 0.03 / 0.004 % for the pressure.
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from meshes.particle_rve import ParticleRVESpec, build
from solver.case import Loading, SolverSettings
from solver.derived import DerivedFields
from solver.materials import LIBRARY
from solver.physics.mechanics import ElasticityProblem
from solver.physics.periodic import PeriodicElasticityProblem
from solver.physics.supports import supports_for
from tests.verification import record

COMM = MPI.COMM_WORLD
L, A = 1e-6, 0.3e-6
SI, LPSCL = LIBRARY["Si"], LIBRARY["Li6PS5Cl"]
THETA, P = 0.01, 50e6
FINE, FINE_SIZE = 0.06e-6, 0.2e-6  # mesh of the periodic / non-periodic comparison (m)
CORNER = [0.2e-6, 0.25e-6, 0.85e-6]  # the particle crosses xmin, ymin and zmax


def rve(
    centers: list[list[float]],
    box: float,
    placement: str,
    size: float = 0.25e-6,
    interface_size: float = 0.1e-6,
) -> ParticleRVESpec:
    return ParticleRVESpec.model_validate(
        {
            "box": [box] * 3,
            "particles": {
                "mode": "explicit",
                "placement": placement,
                "items": [{"center": c, "radius": A} for c in centers],
            },
            "mesh": {"size": size, "interface_size": interface_size},
        }
    )


@pytest.fixture(scope="module")
def cell():  # type: ignore[no-untyped-def]
    return build(COMM, rve([CORNER], L, "periodic"))


def solve(bundle, matrix, loading: Loading, theta: float = THETA):  # type: ignore[no-untyped-def]
    problem = PeriodicElasticityProblem(
        bundle, {"particles": SI, "matrix": matrix}, loading, SolverSettings()
    )
    state = problem.solve(theta)
    return problem, state


def cell_stresses(problem: PeriodicElasticityProblem) -> np.ndarray:
    derived = DerivedFields(problem)
    derived.update()
    num_owned = problem.mesh.topology.index_map(3).size_local
    return derived.sigma.x.array.reshape(-1, 3, 3)[:num_owned]


def global_max(values: np.ndarray) -> float:
    return COMM.allreduce(float(np.abs(values).max(initial=0.0)), op=MPI.MAX)


@pytest.mark.mpi
def test_homogeneous_free_cell_is_stress_free(cell) -> None:  # type: ignore[no-untyped-def]
    problem, state = solve(cell, SI, Loading(mode="free"))
    beta = SI.chemical_strain(THETA)
    assert global_max(cell_stresses(problem)) < 1e-6 * SI.E * beta
    np.testing.assert_allclose(problem.macro_strain, beta * np.eye(3), atol=1e-6 * beta)
    assert state.top_displacement == pytest.approx(beta * L, rel=1e-6)


@pytest.mark.mpi
def test_homogeneous_confined_cell_under_pressure(cell) -> None:  # type: ignore[no-untyped-def]
    problem, state = solve(cell, SI, Loading(mode="pressure", stack_pressure=P))
    lam, mu = SI.lame(THETA)
    swell = (3 * lam + 2 * mu) * SI.chemical_strain(THETA)  # 3Kβ
    ezz = (swell - P) / (lam + 2 * mu)
    lateral = lam * ezz - swell
    expected = np.diag([lateral, lateral, -P])
    s = cell_stresses(problem)
    assert global_max(s - expected) < 1e-6 * abs(lateral)
    assert problem.macro_strain[2, 2] == pytest.approx(ezz, rel=1e-6)
    assert state.stack_pressure == pytest.approx(P, rel=1e-9)


def test_fixed_gap_and_spring_laws(cell) -> None:  # type: ignore[no-untyped-def]
    lam, mu = SI.lame(THETA)
    swell = (3 * lam + 2 * mu) * SI.chemical_strain(THETA)
    gap = PeriodicElasticityProblem(
        cell,
        {"particles": SI, "matrix": SI},
        Loading(mode="fixed_gap", stack_pressure=P),
        SolverSettings(),
    )
    start = gap.solve(0.0)
    end = gap.solve(THETA)
    assert start.stack_pressure == pytest.approx(P, rel=1e-9)
    assert end.top_displacement == pytest.approx(start.top_displacement, rel=1e-9)
    # E_zz = −P/M(0) held, σ_zz = M(θ) E_zz − 3Kβ with M = λ + 2μ (Si softens as it lithiates)
    lam0, mu0 = SI.lame(0.0)
    expected = P * (lam + 2 * mu) / (lam0 + 2 * mu0) + swell
    assert end.stack_pressure == pytest.approx(expected, rel=1e-6)
    k = 1e14
    spring = PeriodicElasticityProblem(
        cell,
        {"particles": SI, "matrix": SI},
        Loading(mode="spring", stack_pressure=P, spring_stiffness=k),
        SolverSettings(),
    )
    start = spring.solve(0.0)
    end = spring.solve(THETA)
    rise = end.stack_pressure - P
    assert P < end.stack_pressure < expected
    assert rise == pytest.approx(k * (end.top_displacement - start.top_displacement), rel=1e-6)


def on_face(problem: PeriodicElasticityProblem, axis: int, value: float) -> tuple[np.ndarray, ...]:
    """Coordinates (m) and displacements (m) of the owned DOFs on a face, from all ranks."""
    V = problem.V
    owned = V.dofmap.index_map.size_local
    x = V.tabulate_dof_coordinates()[:owned]
    u = problem.u.x.array.reshape(-1, 3)[:owned]
    mask = np.abs(x[:, axis] - value) < 1e-9 * L
    return np.concatenate(COMM.allgather(x[mask])), np.concatenate(COMM.allgather(u[mask]))


@pytest.mark.mpi
def test_periodicity_of_the_displacement(cell) -> None:  # type: ignore[no-untyped-def]
    problem, _ = solve(cell, LPSCL, Loading(mode="pressure", stack_pressure=P))
    E = problem.macro_strain
    assert abs(E[0, 1]) > 0  # the corner particle shears the cell: a non-trivial E
    for axis in range(3):
        x_lo, u_lo = on_face(problem, axis, 0.0)
        x_hi, u_hi = on_face(problem, axis, L)
        shifted = x_hi.copy()
        shifted[:, axis] -= L
        dist = np.linalg.norm(x_lo[:, None] - shifted[None], axis=2)
        match = dist.argmin(axis=0)
        assert dist.min(axis=0).max() < 1e-12 * L
        jump = u_hi - u_lo[match]
        np.testing.assert_allclose(jump, np.tile(E[:, axis] * L, (len(jump), 1)), atol=1e-9 * L)
    x0, u0 = on_face(problem, 0, 0.0)
    corner = np.linalg.norm(x0, axis=1) < 1e-9 * L
    np.testing.assert_allclose(u0[corner], 0.0, atol=1e-20)  # the held point


def mean_si_hydrostatic(problem: ElasticityProblem | PeriodicElasticityProblem) -> float:
    derived = DerivedFields(problem)
    derived.update()
    return derived.aggregates()["mean_hydrostatic_Pa_Si"]


@pytest.mark.verification
def test_periodic_cell_matches_a_larger_box_with_rollers() -> None:
    # fixed_gap: the platen keeps the top flat, as the mirror plane z = L of the array does (a
    # uniform traction on a free top face would not: pressure mode differs by ≈ 2 % in E_zz)
    loading = Loading(mode="fixed_gap", stack_pressure=P)
    materials = {"particles": SI, "matrix": LPSCL}
    cell = build(COMM, rve([CORNER], L, "periodic", FINE_SIZE, FINE))
    periodic = PeriodicElasticityProblem(cell, materials, loading, SolverSettings())
    lattice = [
        [(i + 0.5) * L, (j + 0.5) * L, (k + 0.5) * L]
        for i in (0, 1)
        for j in (0, 1)
        for k in (0, 1)
    ]
    box = build(COMM, rve(lattice, 2 * L, "inside", FINE_SIZE, FINE))
    rollers = ElasticityProblem(box, materials, supports_for(loading), SolverSettings())
    states = []
    for problem in (periodic, rollers):
        problem.solve(0.0)  # the platen is placed to carry the preload
        states.append(problem.solve(THETA))
    h_periodic, h_rollers = mean_si_hydrostatic(periodic), mean_si_hydrostatic(rollers)
    p_periodic, p_rollers = (s.stack_pressure for s in states)
    if COMM.rank == 0:
        print(f"mean Si hydrostatic: periodic {h_periodic:.6e}, rollers {h_rollers:.6e} Pa")
        print(f"stack pressure: periodic {p_periodic:.6e}, rollers {p_rollers:.6e} Pa")
    record(
        "periodic_vs_box",
        title="Periodic cell vs 2×2×2 box with rollers: mean Si hydrostatic stress",
        reference="symmetry: a simple cubic array's mirror planes carry rollers",
        quantity="mean σ_h in Si (Pa)",
        measured=h_periodic,
        expected=h_rollers,
        tolerance=0.02,
        setup="one particle per cell, fixed_gap, P1; box with rollers on the mirror planes",
    )
    assert h_periodic == pytest.approx(h_rollers, rel=0.02)
    assert p_periodic == pytest.approx(p_rollers, rel=0.005)
