"""SIGTERM (SLURM's time limit) leaves an `interrupted` run; one run at a time per directory."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

from tests.conftest import ROOT, TINY_CASE, clean_env, ssbmech

MANY_STEPS = "lithiation.steps=5000"


def start_run(out: Path, ranks: int = 1) -> subprocess.Popen[str]:
    """A long run of the tiny case in the background; returns once 2 history rows exist."""
    cmd = [sys.executable, "-m", "solver.cli", "run", str(TINY_CASE), "--out", str(out)]
    cmd += ["--set", MANY_STEPS]
    if ranks > 1:
        cmd = ["mpirun", "-n", str(ranks), *cmd]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(), cwd=ROOT
    )
    deadline = time.monotonic() + 120
    while rows(out) < 2:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no history rows after 120 s"
        time.sleep(0.1)
    return proc


def rows(out: Path) -> int:
    path = out / "history.csv"
    if not path.is_file():
        return 0
    with path.open() as f:
        return len(list(csv.DictReader(f)))


@pytest.mark.parametrize("ranks", [1, 2])
def test_sigterm_leaves_an_interrupted_readable_run(tmp_path: Path, ranks: int) -> None:
    out = tmp_path / "run"
    proc = start_run(out, ranks)
    proc.send_signal(signal.SIGTERM)  # mpirun passes it on to every rank
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0
    if ranks == 1:
        assert proc.returncode == 128 + signal.SIGTERM
        assert "stopped by SIGTERM" in stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted", summary
    assert "SIGTERM" in summary["error"]
    n = rows(out)
    assert 2 <= n < 5001 and summary["steps"] >= 1
    with h5py.File(out / "fields.h5", "r") as h5:  # closed collectively: readable
        assert len(h5["Function"]["u"]) >= 2
    assert not (out / ".lock").exists()


def test_second_run_into_a_running_directory_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = start_run(out)
    try:
        owner = json.loads((out / ".lock").read_text())
        assert owner["pid"] == first.pid
        res = ssbmech("run", str(TINY_CASE), "--out", str(out), "--force", check=False)
        assert res.returncode == 2
        assert f"in use by process {first.pid}" in res.stderr
        assert first.poll() is None and rows(out) >= 2  # the first run was not disturbed
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert json.loads((out / "summary.json").read_text())["status"] == "interrupted"


def test_stale_lock_is_reported_with_instructions(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    (out / ".lock").write_text(json.dumps({"host": os.uname().nodename, "pid": dead.pid}))
    res = ssbmech("run", str(TINY_CASE), "--out", str(out), "--force", check=False)
    assert res.returncode == 2
    assert "stale lock" in res.stderr and f"Remove {out / '.lock'}" in res.stderr
    (out / ".lock").unlink()
    ssbmech("run", str(TINY_CASE), "--out", str(out), "--force")
    assert json.loads((out / "summary.json").read_text())["status"] == "complete"
    assert not (out / ".lock").exists()
