"""Restart data of a run: ``RUN_DIR/checkpoint/state.npz``, written atomically on rank 0.

One file holds everything a run needs to continue after its last completed step: a JSON
``meta`` record (step, time (s), next Δt (s), run extremes, mechanics reference state, mesh
statistics, summary entries) and, per field, the values of every DOF with its coordinates
(m): nodal fields (P1 θ, P1/P2 displacement) keyed by their node coordinates, cell-wise
fields (DG0, scalar such as the plastic strain ε̄_p or tensor such as Cp⁻¹, one value block
per cell) keyed by the cell midpoints. DOLFINx 0.5 has no function reader: a restart (on any
number of ranks) re-reads the mesh from ``mesh.xdmf`` (meshes/mesh_xdmf.py) and maps the
values back by coordinates, so a different mesh is refused instead of silently mixed up.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from dolfinx import fem
from mpi4py import MPI

from solver.errors import CaseError

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.npz"
COORD_RTOL = 1e-9  # relative to the mesh extent


def checkpoint_path(run_dir: Path) -> Path:
    """``RUN_DIR/checkpoint/state.npz``."""
    return run_dir / CHECKPOINT_DIR / STATE_FILE


def write_checkpoint(
    comm: MPI.Comm, run_dir: Path, meta: dict[str, Any], fields: dict[str, fem.Function]
) -> None:
    """Gather ``fields`` on rank 0 and write them with ``meta`` (collective).

    Each field is stored as ``name/values`` (one row of block size values per DOF: 1 for a
    scalar, 3 for a vector, 9 for a tensor) and ``name/coords`` (DOF coordinates, m: nodes of
    a Lagrange space, cell midpoints of DG0), owned DOFs only.
    """
    arrays: dict[str, np.ndarray] = {}
    for name, f in fields.items():
        V = f.function_space
        owned, bs = V.dofmap.index_map.size_local, V.dofmap.index_map_bs
        coords = V.tabulate_dof_coordinates()[:owned]
        values = f.x.array[: owned * bs].reshape(owned, bs).copy()
        parts = comm.gather((values, coords), root=0)
        if comm.rank == 0:
            assert parts is not None
            arrays[f"{name}/values"] = np.concatenate([p[0] for p in parts])
            arrays[f"{name}/coords"] = np.concatenate([p[1] for p in parts])
    if comm.rank == 0:
        path = checkpoint_path(run_dir)
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name("state.tmp.npz")
        np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)
    comm.barrier()


@dataclass(frozen=True)
class Checkpoint:
    """Restart data read back: ``meta`` and the field arrays by ``name/values|coords``."""

    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @property
    def step(self) -> int:
        """The last completed step."""
        return int(self.meta["step"])

    def restore(self, name: str, f: fem.Function) -> None:
        """Set ``f`` to the stored field ``name``, DOF by DOF (owned and ghost).

        DOFs (nodes, or cell midpoints of DG0) are matched by their coordinates, so the mesh
        may come back with another numbering (re-read from ``mesh.xdmf``) or partition; a mesh
        that differs is refused.
        """
        if f"{name}/values" not in self.arrays:
            raise CaseError(
                f"the checkpoint has no field {name!r} (written by an older ssbmech?): start "
                "the run again"
            )
        values, coords = self.arrays[f"{name}/values"], self.arrays[f"{name}/coords"]
        V = f.function_space
        bs = V.dofmap.index_map_bs
        pos, ok = match_points(coords, V.tabulate_dof_coordinates())
        if not V.mesh.comm.allreduce(bool(ok.all()), op=MPI.LAND):
            raise CaseError(
                f"checkpoint field {name!r} does not match the mesh (mesh.msh changed since the "
                "checkpoint was written?)"
            )
        f.x.array.reshape(-1, bs)[:] = values.reshape(coords.shape[0], bs)[pos]


def match_points(stored: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``stored`` of every point of ``x`` (m), and whether it was found.

    Points are binned on a 2^21 grid per axis over the extent of ``stored``; a point matches a
    stored one in its own or a neighbouring bin (a coordinate on a bin boundary may round
    either way: DOF coordinates are pushed forward from the reference cell, not copied) that
    lies within COORD_RTOL × extent on every axis.
    """
    pos, ok = np.zeros(len(x), dtype=np.int64), np.zeros(len(x), dtype=bool)
    if not len(stored):
        return pos, ok
    lo = stored.min(axis=0)
    extent = max(float(np.ptp(stored, axis=0).max()), 1e-300)
    levels = 2**21 - 1
    keys = _pack(np.rint((stored - lo) / extent * levels).astype(np.int64))
    order = np.argsort(keys)
    sorted_keys = keys[order]
    bins = np.rint((x - lo) / extent * levels).astype(np.int64)
    for shift in itertools.product((0, -1, 1), repeat=3):
        todo = np.flatnonzero(~ok)
        if not todo.size:
            break
        key = _pack(np.clip(bins[todo] + np.array(shift), 0, levels))
        i = np.minimum(np.searchsorted(sorted_keys, key), len(keys) - 1)
        near = np.all(np.abs(stored[order[i]] - x[todo]) <= COORD_RTOL * extent, axis=1)
        hit = (sorted_keys[i] == key) & near
        pos[todo[hit]], ok[todo[hit]] = order[i[hit]], True
    return pos, ok


def _pack(q: np.ndarray) -> np.ndarray:
    """One int64 per row of 21-bit grid indices (i, j, k)."""
    return (q[:, 0] << 42) | (q[:, 1] << 21) | q[:, 2]


def read_checkpoint(comm: MPI.Comm, run_dir: Path) -> Checkpoint:
    """Read ``RUN_DIR/checkpoint/state.npz`` on every rank; CaseError if absent or unreadable."""
    path = checkpoint_path(run_dir)
    try:
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {k: data[k] for k in data.files if k != "meta"}
    except FileNotFoundError:
        raise CaseError(
            f"{run_dir}: no checkpoint ({path} missing): the run stopped before its first "
            "checkpoint; start it again with ssbmech run CASE --out DIR --force"
        ) from None
    except (OSError, ValueError, KeyError) as exc:
        raise CaseError(f"{path}: cannot read the checkpoint: {exc}") from None
    return Checkpoint(meta, arrays)


class Checkpoints:
    """Writes the checkpoint every ``every`` steps, at the last step, and at a stop signal.

    The loop reports each completed step with its ``meta`` (``step_done``); ``flush`` (called
    on every rank when a stop signal ends the loop at a step boundary) writes the last
    completed step if it is not on disk yet.
    """

    def __init__(
        self, comm: MPI.Comm, run_dir: Path, every: int, fields: dict[str, fem.Function]
    ) -> None:
        self._comm, self._run_dir, self._every, self._fields = comm, run_dir, every, fields
        self._pending: dict[str, Any] | None = None

    def step_done(self, step: int, meta: dict[str, Any], last: bool) -> None:
        """Step ``step`` is complete (history and fields written); ``meta`` continues it."""
        self._pending = {"step": step, **meta}
        if step % self._every == 0 or last:
            self.flush()

    def flush(self) -> None:
        """Write the last completed step unless already written (collective)."""
        if self._pending is not None:
            write_checkpoint(self._comm, self._run_dir, self._pending, self._fields)
            self._pending = None
