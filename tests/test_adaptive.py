"""Adaptive time steps of model transport-small: grow on easy steps, cut back on failures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from solver.case import Adaptive, load_case
from solver.errors import CaseError, SolverError
from solver.stepping import StepControl, Window
from tests.conftest import ROOT, TINY_CASE, ssbmech

TRANSPORT_CASE = ROOT / "tests" / "cases" / "tiny_sphere_transport.yaml"
ADAPTIVE = ["lithiation.steps=null", "lithiation.dt=9", "solver.adaptive={}"]
# 12 GMRES iterations solve a step at D = 1e-16 m²/s, 18-21 at 1e-11 (any Δt): with at most
# 14, the first steps pass and the steps after θ crosses 0.02 at the surface cannot converge.
FAILING = [
    "transport.petsc_options.ksp_max_it=14",
    "transport.diffusivity={theta: [0, 0.02, 0.03], values: [1e-16, 1e-16, 1e-11]}",
]


def history(out: Path) -> dict[str, np.ndarray]:
    with (out / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def sets(items: list[str]) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


def test_adaptive_run_grows_steps_and_ends_exactly_at_soc_end(tmp_path: Path) -> None:
    out = tmp_path / "run"
    ssbmech("run", str(TRANSPORT_CASE), "--out", str(out), *sets(ADAPTIVE))
    h = history(out)
    duration = 360.0  # SOC 0 → 0.1 at 1C
    steps = len(h["time_s"]) - 1
    assert steps < duration / 9 / 4  # fixed Δt = 9 s takes 40 steps; adaptive 8
    dt = h["dt_s"][1:]
    np.testing.assert_allclose(dt[1:-1] / dt[:-2], 1.5, rtol=1e-12)  # constant D: all easy
    assert dt[-1] < 1.5 * dt[-2]  # the last step shortened …
    assert h["time_s"][-1] == duration and h["soc_charge"][-1] == pytest.approx(0.1, abs=1e-15)
    np.testing.assert_allclose(h["soc"], h["soc_charge"], rtol=0, atol=1e-9)  # mass balance
    assert json.loads((out / "summary.json").read_text())["status"] == "complete"


def test_failures_cut_back_then_give_up_with_exit_3(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = ssbmech(
        "run", str(TRANSPORT_CASE), "--out", str(out), *sets(ADAPTIVE + FAILING), check=False
    )
    assert res.returncode == 3, res.stderr
    assert "cut-back 1/5" in res.stdout and "gave up after 5 cut-backs" in res.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and "gave up after 5 cut-backs" in summary["error"]
    h = history(out)
    accepted = len(h["time_s"])
    assert accepted >= 3  # steps up to the last good one are kept …
    assert np.any(h["dt_s"][2:] < h["dt_s"][1])  # … including steps accepted after cut-backs
    np.testing.assert_allclose(h["soc"], h["soc_charge"], rtol=0, atol=1e-9)
    with h5py.File(out / "fields.h5", "r") as h5:
        assert len(h5["Function"]["theta"]) == accepted
    with np.load(out / "checkpoint" / "state.npz") as cp:
        assert json.loads(str(cp["meta"]))["step"] == accepted - 1


def lithiation(dt: float | None = None, steps: int | None = None) -> Window:
    return Window(0.0, 360.0, dt=dt, steps=steps)  # SOC 0 → 0.1 at 1C


def test_step_control_grows_caps_and_shortens_the_last_step() -> None:
    control = StepControl(lithiation(dt=10.0), Adaptive(grow=2.0, dt_max=50.0, easy_newton=3))
    times = []
    while not control.done:
        times.append(control.next_time())
        control.accept(newton_iterations=3 if len(times) != 2 else 4)  # step 2 is not easy
    assert times == [10.0, 30.0, 50.0, 90.0, 140.0, 190.0, 240.0, 290.0, 340.0, 360.0]


def test_step_control_cuts_back_and_gives_up() -> None:
    control = StepControl(lithiation(dt=8.0), Adaptive(cut=0.5, max_cutbacks=2))
    error = SolverError("no convergence")
    control.cut_back(error)
    control.cut_back(error)
    assert control.next_time() == 2.0
    with pytest.raises(SolverError, match="gave up after 2 cut-backs"):
        control.cut_back(error)
    control.accept(newton_iterations=1)  # a step after cut-backs does not grow Δt
    assert control.dt == 2.0 and control.time == 2.0
    fixed = StepControl(lithiation(steps=4), None)
    with pytest.raises(SolverError, match="no convergence"):
        fixed.cut_back(error)
    assert [fixed.next_time()] == [90.0]


def test_adaptive_needs_the_transport_model() -> None:
    with pytest.raises(CaseError, match=r"solver.adaptive is used only by model .transport-small."):
        load_case(TINY_CASE, ["solver.adaptive={}"])
