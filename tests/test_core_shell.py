"""Core–shell and yolk–shell particles (Si@C): tags, volumes, and the Lamé core–shell solution.

A free Si core (radius a, eigenstrain ε*) bonded inside a shell (a < r < b, free outer
surface) is the sphere-in-shell problem of physics.md §3.1 with p_o = 0: the core is under
the uniform pressure p_i. Tolerance: the mean core pressure of the generated geometry (P2)
within 2 %. A yolk–shell particle (void between core and shell, core resting on the shell)
must take far less pressure in the core (< 30 % of the bonded core–shell value; 20 % measured
for a 20 nm void): the void accommodates the swelling.
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from meshes.particle_rve import (
    CORE_SHELL,
    PARTICLE_SURFACE,
    SHELL,
    VOID_SURFACE,
    ParticleRVESpec,
    build,
)
from solver.case import SolverSettings
from solver.derived import DerivedFields
from solver.materials import LIBRARY, Material
from solver.physics.mechanics import ElasticityProblem
from solver.physics.supports import Supports
from tests.verification import record

R, T, L = 0.1e-6, 0.03e-6, 1.0e-6  # particle (outer) radius, shell thickness, box (m)
SI = Material(name="Si", E=80e9, nu=0.22, expansion=LIBRARY["Si"].expansion)
CARBON = LIBRARY["C"]
THETA = 0.01


def spec(void: float, matrix: bool = False, fine: float = T / 2) -> ParticleRVESpec:
    return ParticleRVESpec.model_validate(
        {
            "box": [L, L, L],
            "matrix": matrix,
            "particles": {"mode": "explicit", "items": [{"center": [L / 2] * 3, "radius": R}]},
            "shell": {"thickness": T, "void": void},
            "mesh": {"size": 0.2e-6 if matrix else fine, "interface_size": fine},
        }
    )


def core_pressure(void: float) -> float:
    bundle = build(MPI.COMM_WORLD, spec(void))
    materials = {"particles": SI, SHELL: CARBON}
    problem = ElasticityProblem(bundle, materials, Supports(), SolverSettings(degree=2))
    problem.solve(THETA)
    derived = DerivedFields(problem)
    derived.update()
    return -derived.aggregates()["mean_hydrostatic_Pa_Si"]


def lame_core_pressure() -> float:
    """p_i of a swelling core (radius a) in a free shell (outer radius b): physics.md §3.1."""
    lam_i, mu_i = SI.lame(0.0)
    lam_m, mu_m = CARBON.lame(0.0)
    ki, km = lam_i + 2 * mu_i / 3, lam_m + 2 * mu_m / 3
    a, b, eps = R - T, R, SI.chemical_strain(THETA)
    m = np.array(
        [
            [3 * km, -4 * mu_m / b**3, 0.0],
            [3 * km, -4 * mu_m / a**3, 1.0],
            [a, 1 / a**2, a / (3 * ki)],
        ]
    )
    return float(np.linalg.solve(m, np.array([0.0, 0.0, a * eps]))[2])


def test_core_shell_tags_and_volumes() -> None:
    bundle = build(MPI.COMM_WORLD, spec(0.0))
    assert set(bundle.cell_names) == {"particles", SHELL}
    assert set(bundle.facet_names) == {PARTICLE_SURFACE, CORE_SHELL}
    f = bundle.stats.volume_fractions_achieved
    sphere = 4 / 3 * np.pi / L**3
    assert f["core"] == pytest.approx(sphere * (R - T) ** 3, rel=1e-3)
    assert f["shell"] == pytest.approx(sphere * (R**3 - (R - T) ** 3), rel=1e-3)
    assert f["void"] == 0.0


def test_yolk_shell_tags_and_volumes() -> None:
    void = 0.02e-6
    bundle = build(MPI.COMM_WORLD, spec(void, matrix=True))
    assert set(bundle.cell_names) == {"particles", SHELL, "matrix"}
    assert {CORE_SHELL, VOID_SURFACE, "interface"} <= set(bundle.facet_names)
    f = bundle.stats.volume_fractions_achieved
    sphere = 4 / 3 * np.pi / L**3
    assert f["core"] == pytest.approx(sphere * (R - T - void) ** 3, rel=1e-3)  # whole yolk
    assert f["particles"] == pytest.approx(sphere * R**3, rel=1e-3)
    assert f["core"] + f["shell"] + f["void"] == pytest.approx(f["particles"], rel=1e-9)
    # the yolk sinks into the shell, so the void exceeds the inner-minus-core volume
    assert sphere * ((R - T) ** 3 - (R - T - void) ** 3) < f["void"] < sphere * (R - T) ** 3


@pytest.mark.mpi
@pytest.mark.verification
def test_core_shell_pressure_matches_lame() -> None:
    pressure = core_pressure(0.0)
    record(
        "core_shell_pressure",
        title="Core–shell Si@C particle: core pressure",
        reference="physics.md §3.1 (Lamé, p_o = 0)",
        quantity="mean Si core pressure (Pa)",
        measured=pressure,
        expected=lame_core_pressure(),
        tolerance=0.02,
        setup="generated particle_rve, r = 0.1 µm, 30 nm carbon shell, free, P2, h = 15 nm",
    )
    assert pressure == pytest.approx(lame_core_pressure(), rel=0.02)


def test_void_relieves_the_core() -> None:
    assert abs(core_pressure(0.02e-6)) < 0.3 * lame_core_pressure()  # measured 0.20


def test_shell_too_thick_is_rejected() -> None:
    from meshes.errors import GeometryError
    from meshes.particle_rve import place_particles

    with pytest.raises(GeometryError, match="leave a core of") as info:
        place_particles(spec(0.06e-6))
    assert info.value.key == "shell.thickness"
