"""Checkpoints and ``ssbmech run --restart``: a killed and resumed run equals an uninterrupted one.

Each comparison runs a case with many short steps, stops it after a few history rows with
SIGTERM (as SLURM's time limit does) or SIGKILL, resumes it with ``ssbmech run --restart``
and compares history.csv with an uninterrupted run of the same case: every column except
the iteration counts to rtol 1e-8, with atol 1e-8 of the column's largest magnitude (stress
columns: of the largest stress, so that a mean stress that is ~0 by equilibrium compares at
the solver tolerance; the elastic solve after a restart starts from u = 0, not the previous
step). A finite-strain plastic run continues from its checkpointed u, Cp⁻¹, ε̄_p, θ and platen
position; continued on another number of ranks it compares to rtol 1e-7 (GMRES + GAMG
converge to a partition-dependent iterate within Newton's tolerance).
"""

from __future__ import annotations

import csv
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from postprocess.reader import read_run
from solver.checkpoint import match_points
from tests.conftest import ROOT, TINY_CASE, clean_env, ssbmech

TRANSPORT_CASE = ROOT / "tests" / "cases" / "tiny_sphere_transport.yaml"
FINITE_CASE = ROOT / "tests" / "cases" / "tiny_finite.yaml"  # J2 plasticity, model finite
FINITE = ["lithiation.soc_end=1.0", "lithiation.steps=12", "output.checkpoint_every=1000"]
SPRING = ["loading.mode=spring", "loading.spring_stiffness=1e13"]  # platen state is restored
NOT_COMPARED = {"newton_iterations", "krylov_iterations"}


def history(out: Path) -> dict[str, np.ndarray]:
    """history.csv as columns."""
    with (out / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]} if rows else {}


def interrupted_run(
    case: Path, out: Path, sets: list[str], after_rows: int, sig: int, ranks: int = 1
) -> int:
    """Run ``case`` in the background on ``ranks``, send ``sig`` once ``after_rows`` rows exist.

    Returns the step of the checkpoint left behind. SIGTERM: the run stops at the next step
    boundary, status ``interrupted``, checkpoint at the step it stopped after. SIGKILL: status
    stays ``running``, the lock stays (removed here, as the stale-lock message tells a user),
    the history may run past the checkpoint.
    """
    cmd = [sys.executable, "-m", "solver.cli", "run", str(case), "--out", str(out)]
    for item in sets:
        cmd += ["--set", item]
    env = clean_env()
    if ranks > 1:  # mpirun passes SIGTERM on to every rank and SIGKILLs them after
        # odls_base_sigkill_timeout (default 1 s, waited out in full; SLURM waits KillWait)
        cmd = ["mpirun", "-n", str(ranks), *cmd]
        env["OMPI_MCA_odls_base_sigkill_timeout"] = "8"
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    deadline = time.monotonic() + 120
    while not (out / "history.csv").is_file() or len(history(out).get("time_s", ())) < after_rows:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no history rows after 120 s"
        time.sleep(0.05)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    summary = json.loads((out / "summary.json").read_text())
    with np.load(out / "checkpoint" / "state.npz") as cp:
        step = int(json.loads(str(cp["meta"]))["step"])
    if sig == signal.SIGKILL:
        assert summary["status"] == "running"
        assert len(history(out)["time_s"]) - 1 > step  # rows past the checkpoint, to be cut
        (out / ".lock").unlink()
    else:
        assert summary["status"] == "interrupted", (summary, stderr)
        assert step == summary["steps"] == len(history(out)["time_s"]) - 1
    return step


def assert_same_history(resumed: Path, reference: Path, rtol: float = 1e-8) -> None:
    got, want = history(resumed), history(reference)
    assert list(got) == list(want)
    assert len(got["time_s"]) == len(want["time_s"])
    stress_scale = max(float(np.abs(v).max()) for k, v in want.items() if "_Pa" in k)
    for key in want:
        if key in NOT_COMPARED:
            continue
        scale = stress_scale if "_Pa" in key else float(np.abs(want[key]).max())
        np.testing.assert_allclose(got[key], want[key], rtol=rtol, atol=rtol * scale, err_msg=key)


def restart_and_compare(
    case: Path,
    sets: list[str],
    tmp_path: Path,
    sig: int,
    ranks: int = 1,
    after_rows: int = 3,
    without_msh: bool = False,
    start_ranks: int = 1,
    rtol: float = 1e-8,
) -> Path:
    out, ref = tmp_path / "run", tmp_path / "ref"
    stopped_at = interrupted_run(case, out, sets, after_rows, sig, start_ranks)
    if without_msh:  # the restart reads the partitioned mesh.xdmf, not Gmsh's mesh.msh
        (out / "mesh.msh").unlink()
    previous = json.loads((out / "summary.json").read_text())["status"]
    ssbmech("run", "--restart", str(out), ranks=ranks)
    args = ["run", str(case), "--out", str(ref)]
    for item in sets:
        args += ["--set", item]
    ssbmech(*args)
    assert_same_history(out, ref, rtol)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete" and "error" not in summary
    (restart,) = summary["restarts"]
    assert restart["step"] == stopped_at and restart["mpi_size"] == ranks
    assert restart["previous_status"] == previous
    extremes = json.loads((ref / "summary.json").read_text())["extremes"]
    assert set(summary["extremes"]) == set(extremes)  # kept over the restart (RunExtremes)
    for key, want in extremes.items():
        assert summary["extremes"][key]["value"] == pytest.approx(want["value"], rel=1e-6), key
    with h5py.File(out / "fields_restart1.h5", "r") as h5:  # the continuation's fields
        assert len(h5["Function"]["u"]) == len(history(ref)["time_s"]) - 1 - stopped_at
    return out


def test_uniform_restart_equals_uninterrupted_run(tmp_path: Path) -> None:
    # killed hard, the only checkpoint at step 0: history.csv is cut back to it
    sets = ["lithiation.steps=20", "output.checkpoint_every=1000", *SPRING]
    restart_and_compare(TINY_CASE, sets, tmp_path, signal.SIGKILL, after_rows=5)


def test_transport_restart_on_two_ranks_from_a_serial_checkpoint(tmp_path: Path) -> None:
    # no periodic checkpoint after step 0: the one resumed from is written at the SIGTERM
    sets = ["lithiation.steps=20", "output.checkpoint_every=1000"]
    out = restart_and_compare(
        TRANSPORT_CASE, sets, tmp_path, signal.SIGTERM, ranks=2, without_msh=True
    )
    run, ref = read_run(out), read_run(tmp_path / "ref")
    assert run.times("theta") == pytest.approx(ref.times("theta"), rel=1e-12)
    last = len(ref.times("theta")) - 1  # written on 2 ranks, read in the serial mesh order
    np.testing.assert_allclose(
        run.read_field("theta", last), ref.read_field("theta", last), atol=1e-9
    )
    np.testing.assert_array_equal(run.cell_regions(), ref.cell_regions())
    grid, grid_ref = run.grid_at(), ref.grid_at()
    np.testing.assert_allclose(
        grid["max_principal"], grid_ref["max_principal"], rtol=1e-6, atol=1e3
    )


def test_finite_plastic_restart_equals_uninterrupted_run(tmp_path: Path) -> None:
    # spring platen: the secant starts from the checkpointed platen position
    out = restart_and_compare(FINITE_CASE, [*FINITE, *SPRING], tmp_path, signal.SIGTERM)
    history_rows = history(out)
    assert history_rows["max_yield_index_Li6PS5Cl"][-1] == pytest.approx(1.0, abs=0.01)
    with np.load(out / "checkpoint" / "state.npz") as cp:  # DG0: one row per cell
        assert cp["cp_inv/values"].shape[1] == 9
        assert cp["cp_inv/values"].shape[0] == cp["plastic_strain/values"].shape[0]
        assert cp["plastic_strain/values"].max() > 0.1


def test_finite_plastic_restart_on_one_rank_from_two(tmp_path: Path) -> None:
    # more, shorter steps: mpirun passes SIGTERM on with a delay of up to ~1 s
    sets = [*FINITE, "lithiation.steps=200"]
    restart_and_compare(FINITE_CASE, sets, tmp_path, signal.SIGTERM, start_ranks=2, rtol=1e-7)


def test_points_match_across_bin_boundaries() -> None:
    # mid-box nodes sit on a grid-bin boundary (2^21 − 1 levels): DOF coordinates pushed
    # forward on another partition may round to either neighbouring bin
    rng = np.random.default_rng(1)
    stored = np.vstack([np.full((1, 3), 0.5e-6), rng.random((200, 3)) * 1e-6, [[0, 0, 0]]])
    stored[-1] = 1e-6
    perm = rng.permutation(len(stored))
    x = stored[perm] * (1 + 2e-16 * rng.choice([-1, 1], size=stored.shape))
    pos, ok = match_points(stored, x)
    assert ok.all() and np.array_equal(pos, perm)
    x[0] += 1e-14  # off by more than COORD_RTOL × extent: refused
    assert not match_points(stored, x)[1][0]


def test_restart_refusals_exit_2(tiny_run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    shutil.copytree(tiny_run_dir, out)  # a complete run
    res = ssbmech("run", "--restart", str(out), "--set", "lithiation.steps=9", check=False)
    assert res.returncode == 2 and "--set cannot be combined with --restart" in res.stderr
    res = ssbmech("run", "--restart", str(out), check=False)
    assert res.returncode == 2 and "complete run: nothing to restart" in res.stderr
    summary = json.loads((out / "summary.json").read_text())
    (out / "summary.json").write_text(json.dumps({**summary, "status": "interrupted"}))
    (out / "checkpoint" / "state.npz").unlink()
    res = ssbmech("run", "--restart", str(out), check=False)
    assert res.returncode == 2 and "no checkpoint" in res.stderr
    res = ssbmech("run", "--restart", str(tmp_path / "nowhere"), check=False)
    assert res.returncode == 2 and "not a run directory" in res.stderr
    assert not (out / ".lock").exists()
