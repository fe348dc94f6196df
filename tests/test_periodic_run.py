"""End to end: a periodic case runs serially and under mpirun -n 2 with the same history."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, ssbmech
from tests.test_run import CONTRACT_COLUMNS, history

PERIODIC_CASE = ROOT / "tests" / "cases" / "tiny_periodic.yaml"


@pytest.fixture(scope="module")
def periodic_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "periodic"
    ssbmech("run", str(PERIODIC_CASE), "--out", str(out))
    return out


def test_periodic_run_completes(periodic_run_dir: Path) -> None:
    summary = json.loads((periodic_run_dir / "summary.json").read_text())
    assert summary["status"] == "complete"
    assert summary["mesh"]["num_particles"] == 2
    h = history(periodic_run_dir)
    assert all(c in h for c in CONTRACT_COLUMNS)
    np.testing.assert_allclose(h["stack_pressure_Pa"], 50e6, rtol=1e-9)
    # confined laterally, the swelling Si lifts the cell and is compressed
    assert h["stack_strain"][-1] > h["stack_strain"][0]
    assert h["mean_hydrostatic_Pa_Si"][-1] < h["mean_hydrostatic_Pa_Si"][0] < 0


def test_periodic_mpi_history_matches_serial(periodic_run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "mpi"
    ssbmech("run", str(PERIODIC_CASE), "--out", str(out), ranks=2)
    assert json.loads((out / "summary.json").read_text())["mpi_size"] == 2
    serial, parallel = history(periodic_run_dir), history(out)
    for key in CONTRACT_COLUMNS:
        np.testing.assert_allclose(parallel[key], serial[key], rtol=1e-6, atol=1e-3, err_msg=key)
