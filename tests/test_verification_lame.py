"""Lamé: a swelling sphere in a concentric shell under outer pressure (physics.md §3.1).

Core r < a: K_i, μ_i, eigenstrain ε*; shell a < r < b: K_m, μ_m; σ_rr(b) = −p_o. Shell:
u = A r + B/r², σ_rr = 3K_m A − 4μ_m B/r³, σ_θθ = 3K_m A + 2μ_m B/r³; core: σ = −p_i I.
Modelled on the octant with symmetry rollers. Tolerances: particle pressure and matrix hoop
stress at r = 1.02 a within 2 % (P2, h = a/8); displacement L2 error converges with
observed order ≥ 2 − 0.1 for P1 (fit over the three finest meshes).
"""

from __future__ import annotations

import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from solver.case import SolverSettings
from solver.materials import Material
from solver.materials.expansion import LinearExpansion
from solver.physics.mechanics import ElasticityProblem
from solver.physics.supports import Supports
from tests.geometries import CORE, SHELL, sphere_in_shell_octant
from tests.probes import stress_at
from tests.verification import record

A_IN, B_OUT = 1.0e-6, 2.0e-6  # m
P_OUT = 50e6  # Pa
CORE_MAT = Material(
    name="core", E=80e9, nu=0.22, expansion=LinearExpansion(partial_molar_volume=9e-6, c_max=3.11e5)
)
SHELL_MAT = Material(name="shell", E=24e9, nu=0.3)
THETA = 0.01  # ε* = Ω c_max θ / 3 ≈ 0.93 %


def bulk_shear(m: Material) -> tuple[float, float]:
    lmbda, mu = m.lame(0.0)
    return lmbda + 2 * mu / 3, mu


def lame_solution() -> tuple[float, float, float, float]:
    """(A, B, p_i, ε*) of the sphere-in-shell problem."""
    eps = CORE_MAT.chemical_strain(THETA)
    ki, _ = bulk_shear(CORE_MAT)
    km, mm = bulk_shear(SHELL_MAT)
    a, b = A_IN, B_OUT
    # unknowns A, B, p_i
    m = np.array(
        [[3 * km, -4 * mm / b**3, 0.0], [3 * km, -4 * mm / a**3, 1.0], [a, 1 / a**2, a / (3 * ki)]]
    )
    rhs = np.array([-P_OUT, 0.0, a * eps])
    A, B, p_i = np.linalg.solve(m, rhs)
    return A, B, p_i, eps


def solve(h: float, degree: int) -> ElasticityProblem:
    bundle = sphere_in_shell_octant(MPI.COMM_WORLD, A_IN, B_OUT, h)
    supports = Supports(rollers={"x0": 0, "y0": 1, "z0": 2}, pressure={"outer": P_OUT})
    problem = ElasticityProblem(
        bundle, {CORE: CORE_MAT, SHELL: SHELL_MAT}, supports, SolverSettings(degree=degree)
    )
    problem.solve(THETA)
    return problem


def mean_core_pressure(problem: ElasticityProblem) -> float:
    dx = ufl.Measure("dx", domain=problem.mesh, subdomain_data=problem.bundle.cell_tags)
    tag = problem.bundle.cell_names[CORE]
    s = problem.stress(problem.u)
    comm = problem.mesh.comm
    num = comm.allreduce(fem.assemble_scalar(fem.form(-ufl.tr(s) / 3 * dx(tag))), op=MPI.SUM)
    vol = comm.allreduce(fem.assemble_scalar(fem.form(1.0 * dx(tag))), op=MPI.SUM)
    return num / vol


@pytest.mark.mpi
@pytest.mark.verification
def test_particle_pressure_and_interface_hoop_stress() -> None:
    A, B, p_i, _ = lame_solution()
    problem = solve(h=A_IN / 8, degree=2)
    pressure = mean_core_pressure(problem)
    record(
        "lame_core_pressure",
        title="Sphere in a shell: core pressure",
        reference="physics.md §3.1 (Lamé)",
        quantity="mean core pressure (Pa)",
        measured=pressure,
        expected=p_i,
        tolerance=0.02,
        setup="octant, a = 1 µm, b = 2 µm, p_o = 50 MPa, ε* = 0.93 %, P2, h = a/8",
    )
    assert pressure == pytest.approx(p_i, rel=0.02)
    # matrix hoop stress just outside the interface, averaged over directions in the octant
    r = A_IN * 1.02
    rng = np.random.default_rng(0)
    n = np.abs(rng.normal(size=(24, 3)))
    n /= np.linalg.norm(n, axis=1)[:, None]
    s = stress_at(problem, r * n)
    srr = np.einsum("ci,cij,cj->c", n, s, n)
    hoop = 0.5 * (np.trace(s, axis1=1, axis2=2) - srr)
    km, mm = bulk_shear(SHELL_MAT)
    expected_hoop = 3 * km * A + 2 * mm * B / r**3
    record(
        "lame_hoop_stress",
        title="Sphere in a shell: shell hoop stress at 1.02 a",
        reference="physics.md §3.1 (Lamé)",
        quantity="σ_θθ at r = 1.02 a (Pa), mean of 24 directions",
        measured=hoop.mean(),
        expected=expected_hoop,
        tolerance=0.02,
        setup="octant, P2, h = a/8",
    )
    assert hoop.mean() == pytest.approx(expected_hoop, rel=0.02)
    assert expected_hoop > 0  # the tensile hoop stress that cracks the electrolyte


def displacement_error(problem: ElasticityProblem) -> float:
    A, B, p_i, eps = lame_solution()
    ki, _ = bulk_shear(CORE_MAT)
    x = ufl.SpatialCoordinate(problem.mesh)
    r3 = ufl.dot(x, x) ** 1.5
    dx = ufl.Measure("dx", domain=problem.mesh, subdomain_data=problem.bundle.cell_tags)
    core_u = float(eps - p_i / (3 * ki)) * x
    shell_u = (float(A) + float(B) / r3) * x
    names = problem.bundle.cell_names
    e = ufl.inner(problem.u - core_u, problem.u - core_u) * dx(names[CORE]) + ufl.inner(
        problem.u - shell_u, problem.u - shell_u
    ) * dx(names[SHELL])
    comm = problem.mesh.comm
    return float(np.sqrt(comm.allreduce(fem.assemble_scalar(fem.form(e)), op=MPI.SUM)))


@pytest.mark.verification
def test_displacement_converges_at_second_order_p1() -> None:
    hs = np.array([A_IN / 2, A_IN / 3, A_IN / 4.5, A_IN / 6.5])
    errors = np.array([displacement_error(solve(h, degree=1)) for h in hs])
    order = np.polyfit(np.log(hs[-3:]), np.log(errors[-3:]), 1)[0]
    print(f"h/a {hs / A_IN}, L2 errors {errors}, observed order {order:.2f}")
    record(
        "lame_displacement_convergence",
        title="Sphere in a shell: P1 displacement L2 convergence",
        reference="physics.md §3.1 (Lamé)",
        quantity="observed order of ||u − u_exact||_L2",
        measured=order,
        expected=2.0,
        tolerance=0.05,
        setup="octant, P1, h = a/2 … a/6.5, order fitted on the three finest meshes",
        h=hs,
        errors=errors,
        order=order,
        expected_order=2.0,
    )
    assert order >= 2 - 0.1
