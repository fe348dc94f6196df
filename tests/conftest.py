"""Shared fixtures: a tiny real run directory, subprocess helpers, collective teardown."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mpi4py import MPI

ROOT = Path(__file__).resolve().parents[1]
TINY_CASE = ROOT / "tests" / "cases" / "tiny_rve.yaml"


@pytest.fixture(autouse=True)
def _collective_teardown() -> Iterator[None]:
    """PETSc destructors are collective: collect garbage and synchronise after each test."""
    yield
    gc.collect()
    MPI.COMM_WORLD.barrier()


def clean_env() -> dict[str, str]:
    """Environment for child processes: no MPI singleton state inherited from this process."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OMPI_", "PMIX_", "PMI_")) or "ALLOW_RUN_AS_ROOT" in k
    }
    env.update(
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMPI_MCA_rmaps_base_oversubscribe="1",
        PYTHONPATH=str(ROOT),
    )
    return env


def ssbmech(*args: str, ranks: int = 1, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the ``ssbmech`` command line in a fresh process (under mpirun for ranks > 1)."""
    cmd = [sys.executable, "-m", "solver.cli", *args]
    if ranks > 1:
        cmd = ["mpirun", "-n", str(ranks), *cmd]
    result = subprocess.run(
        cmd, capture_output=True, text=True, env=clean_env(), cwd=ROOT, timeout=900
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def tiny_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete run directory of the tiny RVE case, made by the real solver."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    ssbmech("run", str(TINY_CASE), "--out", str(out))
    return out
