"""Run-directory life cycle: refuse to overwrite, create on rank 0, errors on all ranks."""

from __future__ import annotations

import shutil
from pathlib import Path

from mpi4py import MPI

from solver.errors import CaseError


def create_run_dir(comm: MPI.Comm, path: Path, force: bool) -> Path:
    """Create ``path`` (rank 0) and return it; an existing directory needs ``force``.

    With ``force`` the old directory is removed first, so nothing stale looks current.
    """
    error = None
    if comm.rank == 0:
        if path.exists() and not force:
            error = (
                f"run directory {path} already exists; choose another --out or pass --force "
                "to replace it"
            )
        else:
            if path.exists():
                shutil.rmtree(path)
            path.mkdir(parents=True)
    error = comm.bcast(error, root=0)
    if error:
        raise CaseError(error)
    return path
