"""Model ``finite`` with galvanostatic lithiation: case rules, cut-backs, run directory, restart.

Protocols (rest, hold, cycles) with model ``finite``: tests/test_finite_protocols.py.
Physics verification (small-strain limit, mass balance at large strain, MPI): see
tests/test_verification_finite_transport.py.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from solver.case import Mechanics, SolverSettings, Transport, load_case
from solver.errors import CaseError, SolverError
from solver.materials import LIBRARY
from solver.physics.chemomech import FiniteTransport
from solver.physics.supports import Supports
from tests.conftest import ROOT, ssbmech
from tests.geometries import CORE, sphere_octant
from tests.test_restart import NOT_COMPARED, restart_and_compare
from tests.test_run import history

CASE = ROOT / "tests" / "cases" / "tiny_sphere_transport.yaml"
FINITE = ["model=finite"]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["transport=null"], "model 'finite' needs a transport section"),
        (
            ["lithiation={soc_end: 0.1}"],
            "the transport section is used only by model 'transport-small' or by model 'finite'",
        ),
        (["transport.active_surfaces=[interface]"], "transport.active_surfaces: unknown"),
        (["mechanics={coupling_max_passes: 1}"], "mechanics.coupling_max_passes"),
    ],
)
def test_invalid_finite_transport_cases_are_named(overrides: list[str], expected: str) -> None:
    with pytest.raises(CaseError, match=expected.replace("(", r"\(")):
        load_case(CASE, [*FINITE, *overrides])


def test_finite_galvanostatic_case_loads() -> None:
    case = load_case(CASE, [*FINITE, "mechanics={plasticity: true}", "solver.adaptive={}"])
    assert case.model == "finite" and case.lithiation.mode == "galvanostatic"
    assert case.mechanics is not None and case.mechanics.coupling_tol == 1e-3


def _coupled(newton_max_it: int) -> FiniteTransport:
    bundle = sphere_octant(MPI.COMM_WORLD, 1e-6, 1e-6 / 3)
    return FiniteTransport(
        bundle,
        {CORE: LIBRARY["Si"]},
        Supports(rollers={"x0": 0, "y0": 1, "z0": 2}),
        SolverSettings(),
        Mechanics(plasticity=True, newton_max_it=newton_max_it),
        Transport(diffusivity=1e-14),
        ["particle_surface"],
        0.0,
        0.02,
    )


def test_failed_step_restores_the_state_and_commits_nothing() -> None:
    coupled = _coupled(25)
    coupled.start()
    coupled.step(7.5)  # SOC 0.15: the surface has yielded
    mech = coupled.mechanics
    before = [
        f.x.array.copy()
        for f in (coupled.transport.theta, mech.theta, mech.u, mech.cp_inv, mech.plastic_strain)
    ]
    assert MPI.COMM_WORLD.allreduce(before[-1].max(), op=MPI.MAX) > 0
    c_inv = coupled.c_inv.x.array.copy()
    mech.newton.max_it = 1
    with pytest.raises(SolverError, match="Newton solver diverged"):
        coupled.step(2.5)
    after = [
        f.x.array
        for f in (coupled.transport.theta, mech.theta, mech.u, mech.cp_inv, mech.plastic_strain)
    ]
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(c_inv, coupled.c_inv.x.array)
    mech.newton.max_it = 25
    result = coupled.step(2.5)  # the retried step goes through
    assert result.passes >= 2 and coupled.transport.soc() == pytest.approx(0.2, rel=1e-9)


def test_run_directory_adaptive_plastic(tmp_path: Path) -> None:
    out = tmp_path / "finite_transport"
    sets = [*FINITE, "mechanics={plasticity: true}", "solver.adaptive={easy_newton: 8}"]
    args = [a for s in sets for a in ("--set", s)]
    ssbmech("run", str(CASE), "--out", str(out), *args)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["model"] == "finite"
    h = history(out)
    assert h["soc"][-1] == pytest.approx(0.1, rel=1e-9)
    np.testing.assert_allclose(h["soc"], h["soc_charge"], rtol=1e-9, atol=1e-12)
    assert (h["coupling_passes"][1:] >= 2).all() and (h["newton_iterations"][1:] >= 1).all()
    assert (h["krylov_iterations"][1:] >= h["newton_iterations"][1:]).all()
    assert h["dt_s"][-2] > h["dt_s"][1]  # easy steps: Δt grew
    assert h["max_principal_Pa_Si"][-1] > 0  # core in tension, surface in compression
    assert 'Name="plastic_strain"' in (out / "fields.xdmf").read_text()


@pytest.mark.parametrize("plastic", [False, True])
def test_restart_equals_uninterrupted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plastic: bool
) -> None:
    finite_restart_and_compare(FINITE, tmp_path, monkeypatch, plastic)


def finite_restart_and_compare(
    sets: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plastic: bool
) -> None:
    """SIGTERM after 4 rows of CASE + ``sets`` (12 steps), --restart, compare with a full run.

    θ, u and the plastic state are checkpointed; the first step after the restart has no
    displacement predictor, so the passes are tight (coupling_tol 1e-12) and their counts are
    not compared: the same fixed point, not the same iterations.
    """
    mechanics = f"{{coupling_tol: 1e-12, coupling_max_passes: 40, plasticity: {plastic}}}"
    sets = [*sets, f"mechanics={mechanics}", "lithiation.steps=12", "output.checkpoint_every=1000"]
    passes = {"coupling_passes", "transport_newton_iterations"}
    monkeypatch.setattr("tests.test_restart.NOT_COMPARED", NOT_COMPARED | passes)
    restart_and_compare(CASE, sets, tmp_path, signal.SIGTERM, after_rows=4)
