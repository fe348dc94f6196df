"""Stress–potential coupling: ΔU = Ω σ_h / F on the Li-entry surface (physics.md §1).

An Eshelby particle (tests/test_verification_eshelby.py set-up) is under the uniform pressure
p_i, so the host-side surface average of σ_h is −p_i and ΔU = −Ω p_i / F (tolerance 2 %, P2);
per particle the same from the particle's volume average. Ω of the library Si is 9.0e-6
m3 mol-1 (2.8 / 3.11e5), i.e. ≈ 93 mV per GPa.
"""

from __future__ import annotations

import pytest
from mpi4py import MPI

from meshes.particle_rve import build
from solver.case import SolverSettings
from solver.derived import DerivedFields
from solver.materials import LIBRARY
from solver.physics.mechanics import ElasticityProblem
from solver.physics.supports import Supports
from solver.potential_shift import FARADAY, voltage_shift
from tests.test_verification_eshelby import LPSCL, SI, THETA, eshelby_pressure, single_particle
from tests.verification import record

SI_HOST = SI.model_copy(update={"c_max": 3.11e5})  # Ω = 2.8 / c_max = 9.0e-6 m3 mol-1


def test_partial_molar_volume_of_si() -> None:
    omega = LIBRARY["Si"].partial_molar_volume(0.3)
    assert omega == pytest.approx(2.8 / 3.11e5, rel=1e-9)
    assert voltage_shift(omega, 1e9) == pytest.approx(0.0933, rel=2e-3)  # ≈ 93 mV per GPa
    assert LIBRARY["Li6PS5Cl"].partial_molar_volume(0.3) is None


@pytest.mark.mpi
@pytest.mark.verification
def test_voltage_shift_of_an_eshelby_particle() -> None:
    bundle = build(MPI.COMM_WORLD, single_particle(True, 0.1e-6 / 5, 0.2e-6))
    materials = {"particles": SI_HOST, "matrix": LPSCL}
    problem = ElasticityProblem(bundle, materials, Supports(), SolverSettings(degree=2))
    problem.solve(THETA)
    derived = DerivedFields(problem, None, ["interface"])
    derived.update()
    table = derived.particle_table()
    out = derived.aggregates(table)
    omega = SI_HOST.partial_molar_volume(THETA)
    assert omega is not None
    expected = -omega * eshelby_pressure() / FARADAY
    record(
        "voltage_shift_eshelby",
        title="Voltage shift ΔU = Ω σ_h / F of an Eshelby particle",
        reference="physics.md §1 (stress–potential coupling) with §3.2",
        quantity="ΔU averaged over the particle surface (V)",
        measured=out["voltage_shift_V"],
        expected=expected,
        tolerance=0.02,
        setup="a = 0.1 µm Si in a free 1 µm Li6PS5Cl box, P2, interface h = a/5",
    )
    assert out["voltage_shift_V"] == pytest.approx(expected, rel=0.02)
    assert out["voltage_shift_V"] < 0  # compression lowers the lithiation potential
    if table:
        assert table[0]["voltage_shift_V"] == pytest.approx(expected, rel=0.02)
