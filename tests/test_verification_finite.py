"""Finite-strain mechanics and J2 plasticity (model ``finite``; physics.md §1, §3.2, §3.4).

(a) Small-strain limit: at β ≈ 0.1 % the finite model (neo-Hookean, F = Fe Fc) gives the
uniform-small stresses within 0.5 %: the clamped film (σ_xx at the film centre) and a particle
in a free matrix box (mean particle pressure), same mesh (measured ≈ 0.1 %); the stack-pressure
rise under a rigid platen (fixed gap; spring 1e14 Pa/m) after a 1 MPa preload (at a 50 MPa
preload the finite model's rise differs by 0.4 %: the preload's own finite-strain effect).
(b) Film on a rigid substrate (rollers, bottom fixed), θ-independent E, ν, σ_Y, lithiated to
ΔV/V0 = 0.3 and back. In-plane logarithmic mechanical strain e = −ln(J_c)/3 (the film cannot
expand laterally; J_c = 1 + ΔV/V0(θ)). Elastic–perfectly-plastic biaxial film, M = E/(1 − ν):
lithiation σ = max(M e, −σ_Y); delithiation from e_min: σ = min(−σ_Y + M (e − e_min), +σ_Y)
(Sethuraman 2010 / Bower 2011 film curve). Tolerance 5 % of σ_Y at every step. With a
pressure-sensitive flow stress σ_Y + α p (α = 0.6) the plateaus move to −σ_Y/(1 − 2α/3) and
+σ_Y/(1 + 2α/3) (p = −2σ/3 in the biaxial film), same tolerance.
(c) Free particle at full lithiation (ΔV/V0 = 2.8, 4 steps, E(θ), ν(θ) of the library):
stress-free (σ_vm < 1e-6 E) and ∫ det F dX = (1 + ΔV/V0) V0 to 1e-6.
(d) MPI: a particle in an elastic–plastic Li6PS5Cl matrix under 50 MPa (plasticity on in Si
and electrolyte) solved on all ranks equals the same problem solved on one rank.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from meshes import particle_rve, thin_film
from solver.case import Mechanics, SolverSettings
from solver.derived import DerivedFields
from solver.materials import LIBRARY, Material
from solver.materials.expansion import TabulatedExpansion
from solver.physics.finite import FiniteStrainProblem
from solver.physics.mechanics import ElasticityProblem
from solver.physics.supports import Supports
from tests.probes import stress_at
from tests.verification import record

COMM = MPI.COMM_WORLD
CLAMPED = Supports(rollers={"xmin": 0, "xmax": 0, "ymin": 1, "ymax": 1, "zmin": 2})
SI = Material(name="Si", E=80e9, nu=0.22, expansion=LIBRARY["Si"].expansion)
THETA_SMALL = 0.00107  # β = (1 + 2.8 θ)^(1/3) − 1 ≈ 0.1 %
H_S, H_F = 1e-6, 0.2e-6


def film_stack(comm: MPI.Comm = COMM):
    spec = thin_film.ThinFilmSpec.model_validate(
        {
            "kind": "thin_film",
            "lateral": [1e-6, 1e-6],
            "layers": [
                {"region": "substrate", "thickness": H_S},
                {"region": "film", "thickness": H_F},
            ],
            "mesh": {"size": 0.5e-6, "max_height": 0.5e-6},
        }
    )
    return thin_film.build(comm, spec)


def film_stress(problem) -> float:
    return stress_at(problem, np.array([[0.5e-6, 0.5e-6, H_S + 0.5 * H_F]]))[0, 0, 0]


def particle_box(matrix: bool, comm: MPI.Comm = COMM, size: float = 0.25e-6):
    spec = particle_rve.ParticleRVESpec.model_validate(
        {
            "box": [1e-6] * 3,
            "matrix": matrix,
            "particles": {
                "mode": "explicit",
                "items": [{"center": [0.5e-6] * 3, "radius": 0.2e-6}],
            },
            "mesh": {"size": size, "interface_size": size / 2},
        }
    )
    return particle_rve.build(comm, spec)


def elastic() -> Mechanics:
    return Mechanics(plasticity=False)


@pytest.mark.mpi
@pytest.mark.verification
def test_small_strain_limit_film() -> None:
    materials = {"substrate": LIBRARY["LLZTO"], "film": SI}
    bundle = film_stack()
    small = ElasticityProblem(bundle, materials, CLAMPED, SolverSettings())
    small.solve(THETA_SMALL)
    finite = FiniteStrainProblem(bundle, materials, CLAMPED, SolverSettings(), elastic())
    state = finite.solve(THETA_SMALL)
    measured, expected = film_stress(finite), film_stress(small)
    record(
        "finite_small_strain_film",
        title="Finite strain at β = 0.1 %: clamped film vs uniform-small",
        reference="model uniform-small (physics.md §3.4)",
        quantity="film σ_xx (Pa)",
        measured=measured,
        expected=expected,
        tolerance=0.005,
        setup="0.2 µm Si film on LLZTO, rollers, P1, same mesh; neo-Hookean, F = Fe Fc",
    )
    assert measured == pytest.approx(expected, rel=0.005)
    assert state.newton_iterations <= 4


@pytest.mark.mpi
@pytest.mark.verification
def test_small_strain_limit_particle_in_free_matrix() -> None:
    materials = {"particles": SI, "matrix": LIBRARY["Li6PS5Cl"]}
    bundle = particle_box(True)
    pressures = []
    for problem in (
        ElasticityProblem(bundle, materials, Supports(), SolverSettings()),
        FiniteStrainProblem(bundle, materials, Supports(), SolverSettings(), elastic()),
    ):
        problem.solve(THETA_SMALL)
        derived = DerivedFields(problem)
        derived.update()
        pressures.append(-derived.aggregates()["mean_hydrostatic_Pa_Si"])
    record(
        "finite_small_strain_eshelby",
        title="Finite strain at β = 0.1 %: particle in a free matrix vs uniform-small",
        reference="model uniform-small (physics.md §3.2)",
        quantity="mean particle pressure (Pa)",
        measured=pressures[1],
        expected=pressures[0],
        tolerance=0.005,
        setup="a = 0.2 µm Si in a free 1 µm Li6PS5Cl box, P1, same mesh (rigid modes removed)",
    )
    assert pressures[1] == pytest.approx(pressures[0], rel=0.005)


def film_closed_form(
    jc: np.ndarray, modulus: float, sigma_y: float, tensile: float | None = None
) -> np.ndarray:
    """Elastic–perfectly-plastic film stress (Pa) along a J_c history (module docstring).

    Flow at −``sigma_y`` in compression and +``tensile`` (default ``sigma_y``) in tension.
    """
    tension = sigma_y if tensile is None else tensile
    out, e_min, loading = [], 0.0, True
    for e in -np.log(jc) / 3.0:
        if e <= e_min:
            e_min = e
            out.append(max(modulus * e, -sigma_y))
            loading = True
        else:
            if loading:
                e_turn, loading = e_min, False
            out.append(min(-sigma_y + modulus * (e - e_turn), tension))
    return np.array(out)


FILM_DV = 0.3
"""ΔV/V0 at θ = 1 of the film cycles."""


def film_cycle(
    alpha: float = 0.0,
) -> tuple[FiniteStrainProblem, Material, np.ndarray, list[float], list[int]]:
    """The film (σ_Y 1 GPa, pressure sensitivity ``alpha``) lithiated to ΔV/V0 = 0.3 and back.

    Returns the problem, the film material, the θ of the 29 steps, the film σ_xx (Pa) and the
    Newton iterations of each step; the substrate is elastic and 20× stiffer.
    """
    expansion = TabulatedExpansion(theta=[0.0, 1.0], volume_change_table=[0.0, FILM_DV])
    film = Material(
        name="Si",
        E=80e9,
        nu=0.22,
        flow_stress=1.0e9,
        flow_pressure_sensitivity=alpha,
        expansion=expansion,
    )
    problem = FiniteStrainProblem(
        film_stack(),
        {"substrate": Material(name="rigid", E=1600e9, nu=0.25), "film": film},
        CLAMPED,
        SolverSettings(),
        Mechanics(plasticity=True),
    )
    # fine steps on the elastic rise and just after the reversal, where the line is elastic
    up = np.concatenate([np.linspace(0, 0.1, 6), np.linspace(0.2, 1, 9)])
    thetas = np.concatenate([up, np.linspace(0.98, 0.9, 5), np.linspace(0.8, 0, 9)])
    measured, iterations = [], []
    for theta in thetas:
        iterations.append(problem.solve(float(theta)).newton_iterations)
        measured.append(film_stress(problem))
    return problem, film, thetas, measured, iterations


@pytest.mark.mpi
@pytest.mark.verification
def test_film_plastic_cycle_follows_elastic_perfectly_plastic_curve() -> None:
    sigma_y = 1.0e9
    problem, film, thetas, measured, iterations = film_cycle()
    expected = film_closed_form(1 + FILM_DV * thetas, film.E / (1 - film.nu), sigma_y)
    error = np.abs(np.array(measured) - expected) / sigma_y
    worst = int(error.argmax())
    record(
        "finite_film_plastic_cycle",
        title="Film on a rigid substrate, finite strain + J2: lithiation/delithiation cycle",
        reference="physics.md §3.4 (Sethuraman 2010; Bower 2011), elastic–perfectly-plastic",
        quantity="film σ_xx (Pa), worst of 29 steps (error relative to σ_Y)",
        measured=measured[worst],
        expected=expected[worst],
        scale=sigma_y,
        tolerance=0.05,
        setup="0.2 µm film, E 80 GPa, ν 0.22, σ_Y 1 GPa, ΔV/V0 0 → 0.3 → 0 in 14 + 14 steps, P1",
    )
    assert error.max() < 0.05
    assert measured[14] < -0.95 * sigma_y and measured[-1] > 0.95 * sigma_y
    assert -0.9 * sigma_y < measured[2] < -0.2 * sigma_y  # a point on the elastic rise
    assert max(iterations) <= 6  # consistent tangent: quadratic convergence
    assert COMM.allreduce(float(problem.plastic_strain.x.array.max()), op=MPI.MAX) > 0.2


@pytest.mark.verification
def test_pressure_sensitive_film_flows_at_asymmetric_stresses() -> None:
    # σ_Y(p) = σ_Y + α p; biaxial film (σ_zz = 0, p = −2σ/3): compression −σ_Y/(1 − 2α/3),
    # tension +σ_Y/(1 + 2α/3) — α = 0.6: −1.67 σ_Y and +0.71 σ_Y
    sigma_y, alpha = 1.0e9, 0.6
    _, film, thetas, measured, iterations = film_cycle(alpha)
    compressive, tensile = sigma_y / (1 - 2 * alpha / 3), sigma_y / (1 + 2 * alpha / 3)
    expected = film_closed_form(1 + FILM_DV * thetas, film.E / (1 - film.nu), compressive, tensile)
    error = np.abs(np.array(measured) - expected) / sigma_y
    worst = int(error.argmax())
    print(f"plateaus {measured[14]:.4g} / {measured[-1]:.4g} Pa; worst {error.max():.3g} σ_Y")
    record(
        "finite_film_pressure_sensitive_cycle",
        title="Film on a rigid substrate, pressure-sensitive flow (α = 0.6): asymmetric plateaus",
        reference="σ_Y(p) = σ_Y + αp on a biaxial film: −σ_Y/(1 − 2α/3), +σ_Y/(1 + 2α/3)",
        quantity="film σ_xx (Pa), worst of 29 steps (error relative to σ_Y)",
        measured=measured[worst],
        expected=expected[worst],
        scale=sigma_y,
        tolerance=0.05,
        setup="0.2 µm film, E 80 GPa, ν 0.22, σ_Y 1 GPa, α = 0.6, ΔV/V0 0 → 0.3 → 0 in "
        f"14 + 14 steps, P1; plateaus {measured[14] / 1e9:.3f} / {measured[-1] / 1e9:.3f} GPa",
    )
    assert error.max() < 0.05
    assert measured[14] < -0.95 * compressive and measured[-1] > 0.95 * tensile
    assert max(iterations) <= 6  # the pressure term is in the consistent tangent


@pytest.mark.mpi
@pytest.mark.verification
def test_free_particle_full_lithiation_is_stress_free_with_exact_volume() -> None:
    si = LIBRARY["Si"]
    problem = FiniteStrainProblem(
        particle_box(False, size=0.1e-6), {"particles": si}, Supports(), SolverSettings(), elastic()
    )
    iterations = [problem.solve(theta).newton_iterations for theta in (0.25, 0.5, 0.75, 1.0)]
    derived = DerivedFields(problem)
    derived.update()
    vm = COMM.allreduce(float(derived.scalars["von_mises"].x.array.max()), op=MPI.MAX)
    F = ufl.Identity(3) + ufl.grad(problem.u)
    v0 = COMM.allreduce(fem.assemble_scalar(fem.form(1.0 * ufl.dx(domain=problem.mesh))))
    v = COMM.allreduce(fem.assemble_scalar(fem.form(ufl.det(F) * ufl.dx)))
    expected = 1 + si.expansion.volume_change(1.0)
    record(
        "finite_free_particle_volume",
        title="Free particle at full lithiation (ΔV/V0 = 2.8): deformed volume",
        reference="physics.md §1 (F = Fe Fp Fc, J_c = 1 + ΔV/V0)",
        quantity="V/V0 (-)",
        measured=v / v0,
        expected=expected,
        tolerance=1e-6,
        setup="free a-Si sphere, R = 0.2 µm, P1, θ 0 → 1 in 4 steps",
    )
    assert v / v0 == pytest.approx(expected, rel=1e-6)
    assert vm < 1e-6 * si.E
    assert max(iterations) <= 6


def _plastic_rve_aggregates(comm: MPI.Comm) -> dict[str, float]:
    materials = {"particles": LIBRARY["Si"], "matrix": LIBRARY["Li6PS5Cl"]}
    supports = Supports(rollers=CLAMPED.rollers, pressure={"zmax": 50e6}, reaction_face="zmax")
    problem = FiniteStrainProblem(
        particle_box(True, comm), materials, supports, SolverSettings(), Mechanics(plasticity=True)
    )
    for theta in (0.0, 0.02, 0.04):
        state = problem.solve(theta)
    derived = DerivedFields(problem)
    derived.update()
    aggregates = derived.aggregates()
    aggregates["stack_pressure"] = state.stack_pressure
    aggregates["max_plastic_strain"] = comm.allreduce(
        float(problem.plastic_strain.x.array.max()), op=MPI.MAX
    )
    return aggregates


@pytest.mark.mpi
def test_mpi_finite_plastic_run_equals_serial() -> None:
    parallel = _plastic_rve_aggregates(COMM)
    serial = _plastic_rve_aggregates(MPI.COMM_SELF)
    assert parallel["max_plastic_strain"] > 0  # the matrix yields around the particle
    assert parallel["stack_pressure"] == pytest.approx(50e6, rel=1e-6)
    for key, value in serial.items():
        scale = 1e-6 * max(abs(value), 1e6) if key.endswith("Pa_Si") else 1e-6 * abs(value)
        assert parallel[key] == pytest.approx(value, abs=max(scale, 1e-12)), key
    assert math.isfinite(parallel["mean_hydrostatic_Pa_Si"])


@pytest.mark.mpi
@pytest.mark.verification
@pytest.mark.parametrize("stiffness", [None, 1e14], ids=["fixed_gap", "spring"])
def test_small_strain_limit_platen(stiffness: float | None) -> None:
    materials = {"particles": SI, "matrix": LIBRARY["Li6PS5Cl"]}
    supports = Supports(
        rollers=CLAMPED.rollers,
        platen="zmax",
        reaction_face="zmax",
        spring_stiffness=stiffness,
        preload=1e6,
    )
    bundle = particle_box(True)
    rises, iterations = [], []
    for problem in (
        ElasticityProblem(bundle, materials, supports, SolverSettings()),
        FiniteStrainProblem(bundle, materials, supports, SolverSettings(), elastic()),
    ):
        p_start = problem.solve(0.0).stack_pressure
        state = problem.solve(THETA_SMALL)
        rises.append(state.stack_pressure - p_start)
        iterations.append(state.newton_iterations)
        assert p_start == pytest.approx(1e6, rel=1e-6)
    mode = "fixed_gap" if stiffness is None else "spring"
    record(
        f"finite_small_strain_{mode}",
        title=f"Finite strain at β = 0.1 %: {mode} stack-pressure rise vs uniform-small",
        reference="model uniform-small",
        quantity="stack pressure rise P − p0 (Pa)",
        measured=rises[1],
        expected=rises[0],
        tolerance=0.005,
        setup="a = 0.2 µm Si in a 1 µm Li6PS5Cl box, rollers, rigid platen (secant on w), P1",
    )
    assert rises[1] == pytest.approx(rises[0], rel=0.005)
    assert iterations[1] <= 12  # Newton solves of the secant iterates
