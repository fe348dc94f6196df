"""Run-directory writers; each has ``write(t)`` or ``write(row)`` and ``close()``.

Fields go to ``fields.xdmf``/``fields.h5`` (collective, opens in ParaView); scalars arrive
already reduced over ranks and are written on rank 0 only.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any, TextIO

from dolfinx import fem, io
from mpi4py import MPI

from solver.derived import DerivedFields


class FieldWriter:
    """Time series of u (P1, m), θ, σ (Pa) and the derived scalar fields (cell-wise).

    2D runs: ``sigma`` holds the in-plane components and ``sigma_zz`` the out-of-plane normal
    stress (``DerivedFields.stress_outputs``); u is written with z = 0 by XDMF.
    """

    def __init__(self, comm: MPI.Comm, path: Path, derived: DerivedFields) -> None:
        problem = derived.problem
        self._xdmf = io.XDMFFile(comm, str(path), "w")
        self._xdmf.write_mesh(problem.mesh)
        self._derived = derived
        self._u = problem.u
        if problem.V.ufl_element().degree() != 1:  # XDMF stores vertex values: interpolate
            self._u_out = fem.Function(fem.VectorFunctionSpace(problem.mesh, ("CG", 1)), name="u")
        else:
            self._u_out = problem.u
        self._region_written = False

    def write(self, t: float) -> None:
        """Append all fields at time ``t`` (s); the region and particle-id maps only once."""
        if self._u_out is not self._u:
            self._u_out.interpolate(self._u)
        d = self._derived
        for f in (self._u_out, d.theta, *d.stress_outputs, *d.scalars.values(), *d.extra_fields):
            self._xdmf.write_function(f, t)
        if not self._region_written:
            self._xdmf.write_function(d.region, t)
            self._xdmf.write_function(d.particle, t)
            self._region_written = True

    def close(self) -> None:
        """Close the XDMF file (collective)."""
        self._xdmf.close()


class HistoryWriter:
    """``history.csv``: one row per accepted step, columns fixed by the first row (rank 0).

    ``keep_rows`` (a restart): keep the header and the first ``keep_rows`` rows of the
    existing file, drop the rest (steps after the checkpoint) and append with the columns of
    that header (a run begun by an older version that wrote fewer columns keeps its columns).
    """

    def __init__(self, comm: MPI.Comm, path: Path, keep_rows: int | None = None) -> None:
        self._file: TextIO | None = None
        self._writer: csv.DictWriter[str] | None = None
        if comm.rank != 0:
            return
        if keep_rows is None:
            self._file = path.open("w", newline="")
            return
        with path.open(newline="") as f:
            lines = f.readlines()[: keep_rows + 1]
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(lines))
        os.replace(tmp, path)
        self._file = path.open("a", newline="")
        if lines:
            header = next(csv.reader(lines[:1]))
            self._writer = csv.DictWriter(self._file, fieldnames=header, extrasaction="ignore")

    def write(self, row: dict[str, float]) -> None:
        """Append one row and flush (a killed run keeps every accepted step)."""
        if self._file is None:
            return
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=list(row))
            self._writer.writeheader()
        self._writer.writerow(
            {k: f"{v:.10g}" if isinstance(v, float) else v for k, v in row.items()}
        )
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        if self._file is not None:
            self._file.close()


def write_json(comm: MPI.Comm, path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically on rank 0 (temporary file, then rename)."""
    if comm.rank != 0:
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def read_json(comm: MPI.Comm, path: Path) -> dict[str, Any]:
    """Read a JSON mapping on rank 0 and broadcast it; {} if the file is absent or invalid."""
    data: dict[str, Any] = {}
    if comm.rank == 0:
        try:
            loaded = json.loads(path.read_text())
            data = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            data = {}
    return dict(comm.bcast(data, root=0))
