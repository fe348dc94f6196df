"""2D plane strain (gdim 2): swelling cylinder in a matrix and the confined homogeneous cell.

Plane strain: ε_zz = 0, eigenstrain β in all three directions (ElasticityProblem docstring).

(a) Swelling cylinder (radius a: λ_i, μ_i, K_i = λ_i + 2μ_i/3, eigenstrain β) in a concentric
matrix annulus a < r < b (λ_m, μ_m, no eigenstrain), outer surface free. Core: u = A r,
σ_rr = σ_θθ = 2(λ_i + μ_i) A − 3K_i β = −p, σ_zz = 2λ_i A − 3K_i β. Annulus: u = C r + B/r,
σ_rr = 2(λ_m + μ_m) C − 2μ_m B/r², σ_θθ = 2(λ_m + μ_m) C + 2μ_m B/r². Conditions:
σ_rr(b) = 0, continuity A a = C a + B/a, traction 2(λ_i + μ_i)A − 3K_iβ = σ_rr^m(a): three
linear equations for A, B, C. Infinite matrix (b → ∞, C = 0):
p = 3K_i μ_m β / (λ_i + μ_i + μ_m), matrix σ_rr = −p (a/r)², σ_θθ = +p (a/r)².
Here b = 5a; tolerances: mean in-plane core pressure −(σ_xx + σ_yy)/2 and core σ_zz within
0.2 % (P2, interface h = a/8; measured 0.014 % and 0.0013 %), mean interface normal traction
(``crack_risk.interfaces`` facet stresses, exercising the 2D facet code) within 3 % (measured
2.5 % at a/8, 1.3 % at a/16: one-sided facet stresses at a polygonal interface converge
O(h)); convergence of
the P1 core-pressure error over h = a/2 … a/16 with observed order ≥ 2 − 0.1 (the error
is dominated by the polygonal interface, O(h²)).

(b) Homogeneous cell (Si everywhere), rollers on xmin/xmax (x) and ymin (y), uniform β:
- pressure P on ymax: σ_yy = −P, ε_yy = (3Kβ − P)/(λ + 2μ),
  σ_xx = σ_zz = −Eβ/(1 − ν) − P ν/(1 − ν);
- fixed gap (platen placed at θ = 0 under the preload P0): ε_yy = −P0/(λ + 2μ),
  σ_xx = σ_zz = −P0 ν/(1 − ν) − Eβ/(1 − 2ν), stack pressure P0 + Eβ/(1 − 2ν).
All to 1e-8 relative.

(d) MPI: the inclusion under ``mpirun -n 2`` gives the serial numbers (the assertions hold
on any number of ranks; the mesh is the same).
"""

from __future__ import annotations

import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from meshes.particle_rve_2d import ParticleRVE2DSpec, build
from solver.case import CrackRisk, Loading, SolverSettings
from solver.derived import DerivedFields
from solver.materials import LIBRARY, Material
from solver.physics.mechanics import ElasticityProblem
from solver.physics.supports import Supports, supports_for
from tests.geometries import disk_in_disk
from tests.verification import record

A, B = 0.1e-6, 0.5e-6
SI = Material(name="Si", E=80e9, nu=0.22, expansion=LIBRARY["Si"].expansion)
LPSCL = LIBRARY["Li6PS5Cl"]
THETA = 0.01


def cylinder_reference(b: float = B) -> tuple[float, float]:
    """Core in-plane pressure p (Pa) and core σ_zz (Pa) of the cylinder in an annulus."""
    lam_i, mu_i = SI.lame(THETA)
    lam_m, mu_m = LPSCL.lame(0.0)
    k3 = 3 * lam_i + 2 * mu_i  # 3 K_i
    beta = SI.chemical_strain(THETA)
    # unknowns A, B, C
    m = np.array(
        [
            [0.0, -2 * mu_m / b**2, 2 * (lam_m + mu_m)],  # σ_rr(b) = 0
            [A, -1 / A, -A],  # A a = C a + B / a
            [2 * (lam_i + mu_i), 2 * mu_m / A**2, -2 * (lam_m + mu_m)],  # traction at a
        ]
    )
    coef_a, _, _ = np.linalg.solve(m, np.array([0.0, 0.0, k3 * beta]))
    p = -(2 * (lam_i + mu_i) * coef_a - k3 * beta)
    szz = 2 * lam_i * coef_a - k3 * beta
    return float(p), float(szz)


def test_infinite_matrix_limit() -> None:
    lam_i, mu_i = SI.lame(THETA)
    _, mu_m = LPSCL.lame(0.0)
    k_i = lam_i + 2 * mu_i / 3
    p_inf = 3 * k_i * mu_m * SI.chemical_strain(THETA) / (lam_i + mu_i + mu_m)
    assert cylinder_reference(1e3 * A)[0] == pytest.approx(p_inf, rel=1e-5)


def solve_cylinder(degree: int, h_interface: float) -> ElasticityProblem:
    bundle = disk_in_disk(MPI.COMM_WORLD, A, B, h=4 * h_interface, h_interface=h_interface)
    materials = {"particles": SI, "matrix": LPSCL}
    problem = ElasticityProblem(bundle, materials, Supports(), SolverSettings(degree=degree))
    problem.solve(THETA)
    return problem


def core_means(problem: ElasticityProblem) -> tuple[float, float]:
    """Area means over the core of −(σ_xx + σ_yy)/2 and σ_zz (Pa)."""
    dx = ufl.Measure("dx", domain=problem.mesh, subdomain_data=problem.bundle.cell_tags)(1)
    s = problem.cauchy_stress(problem.u)
    comm = problem.comm

    def integral(expr: ufl.core.expr.Expr) -> float:
        return float(comm.allreduce(fem.assemble_scalar(fem.form(expr * dx)), op=MPI.SUM))

    area = integral(fem.Constant(problem.mesh, 1.0))
    return -integral(0.5 * (s[0, 0] + s[1, 1])) / area, integral(s[2, 2]) / area


@pytest.mark.mpi
@pytest.mark.verification
def test_swelling_cylinder_p2() -> None:
    problem = solve_cylinder(2, A / 8)
    p, szz = core_means(problem)
    p_ref, szz_ref = cylinder_reference()
    record(
        "plane_strain_cylinder_pressure",
        title="Plane strain: swelling cylinder, core pressure",
        reference="Lamé cylinder in an annulus with eigenstrain (tests docstring)",
        quantity="mean in-plane core pressure −(σ_xx + σ_yy)/2 (Pa)",
        measured=p,
        expected=p_ref,
        tolerance=0.002,
        setup="a = 0.1 µm Si (E 80 GPa) in a free Li6PS5Cl annulus b = 5a, P2, interface h = a/8",
    )
    assert p == pytest.approx(p_ref, rel=0.002)
    record(
        "plane_strain_cylinder_szz",
        title="Plane strain: swelling cylinder, core σ_zz",
        reference="Lamé cylinder in an annulus with eigenstrain (tests docstring)",
        quantity="mean core σ_zz (Pa)",
        measured=szz,
        expected=szz_ref,
        tolerance=0.002,
        setup="as plane_strain_cylinder_pressure",
    )
    assert szz == pytest.approx(szz_ref, rel=0.002)
    risk = CrackRisk.model_validate(
        {"interfaces": {"interface": {"normal_strength": 1e9, "shear_strength": 1e9}}}
    )
    derived = DerivedFields(problem, risk)
    derived.update()
    areas, t_n, _, _ = derived._interface_values()["interface"]
    comm = problem.comm
    mean_tn = comm.allreduce(float((areas * t_n).sum()), op=MPI.SUM) / comm.allreduce(
        float(areas.sum()), op=MPI.SUM
    )
    length = comm.allreduce(float(areas.sum()), op=MPI.SUM)
    assert length == pytest.approx(2 * np.pi * A, rel=0.01)
    assert mean_tn == pytest.approx(-p_ref, rel=0.03)


@pytest.mark.verification
def test_cylinder_pressure_converges() -> None:
    p_ref, _ = cylinder_reference()
    h = np.array([A / 2, A / 4, A / 8, A / 16])
    errors = np.array([abs(core_means(solve_cylinder(1, hi))[0] - p_ref) / p_ref for hi in h])
    order = float(np.polyfit(np.log(h[-3:]), np.log(errors[-3:]), 1)[0])
    record(
        "plane_strain_cylinder_convergence",
        title="Plane strain: swelling cylinder, P1 convergence of the core pressure",
        reference="Lamé cylinder in an annulus with eigenstrain (tests docstring)",
        quantity="relative error of the mean core pressure at h = a/16",
        measured=float(errors[-1]),
        expected=0.0,
        scale=1.0,
        tolerance=0.01,
        setup="a = 0.1 µm Si in a free Li6PS5Cl annulus b = 5a, P1, h = a/2 … a/16",
        h=h,
        errors=errors,
        order=order,
        expected_order=2.0,
    )
    assert order >= 2.0 - 0.1
    assert errors[-1] < 0.01


def homogeneous_cell(loading: Loading) -> tuple[ElasticityProblem, list[float]]:
    """Si everywhere, 1 µm square with one disk (two regions of the same material)."""
    spec = ParticleRVE2DSpec.model_validate(
        {
            "box": [1e-6, 1e-6],
            "particles": {
                "mode": "explicit",
                "items": [{"center": [0.5e-6] * 2, "radius": 0.2e-6}],
            },
            "mesh": {"size": 0.25e-6},
        }
    )
    bundle = build(MPI.COMM_WORLD, spec)
    problem = ElasticityProblem(
        bundle, {"particles": SI, "matrix": SI}, supports_for(loading, 2), SolverSettings()
    )
    pressures = [problem.solve(0.0).stack_pressure, problem.solve(THETA).stack_pressure]
    return problem, pressures


def cell_stresses(problem: ElasticityProblem) -> np.ndarray:
    derived = DerivedFields(problem)
    derived.update()
    return derived.sigma.x.array.reshape(-1, 3, 3)


@pytest.mark.mpi
@pytest.mark.verification
@pytest.mark.parametrize("mode", ["pressure", "fixed_gap"])
def test_confined_homogeneous_cell(mode: str) -> None:
    p0 = 50e6
    problem, pressures = homogeneous_cell(Loading(mode=mode, stack_pressure=p0))
    s = cell_stresses(problem)
    lam, mu = SI.lame(THETA)
    e, nu = mu * (3 * lam + 2 * mu) / (lam + mu), lam / (2 * (lam + mu))
    beta = SI.chemical_strain(THETA)
    if mode == "pressure":
        lateral, stack = -e * beta / (1 - nu) - p0 * nu / (1 - nu), p0
    else:
        lateral, stack = -p0 * nu / (1 - nu) - e * beta / (1 - 2 * nu), p0 + e * beta / (1 - 2 * nu)
    expected = np.diag([lateral, -stack, lateral])
    scale = e * beta
    np.testing.assert_allclose(s, np.broadcast_to(expected, s.shape), rtol=0, atol=1e-8 * scale)
    assert pressures[1] == pytest.approx(stack, rel=1e-8)
    record(
        f"plane_strain_confined_{mode}",
        title=f"Plane strain: confined homogeneous cell ({mode})",
        reference="uniaxial-strain confinement, plane strain (tests docstring)",
        quantity="lateral stress σ_xx = σ_zz (Pa)",
        measured=float(problem.comm.allreduce(float(s[:, 0, 0].min(initial=np.inf)), op=MPI.MIN)),
        expected=lateral,
        tolerance=1e-8,
        setup="Si everywhere, 1 µm square, rollers xmin/xmax/ymin, 50 MPa on ymax, P1",
    )
