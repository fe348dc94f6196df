"""Restart data of a run: ``RUN_DIR/checkpoint/state.npz``, written atomically on rank 0.

One file holds everything a run needs to continue after its last completed step: a JSON
``meta`` record (step, time (s), next Δt (s), run extremes, mechanics reference state, mesh
statistics, summary entries) and, per nodal field (P1, e.g. the Li fraction θ), the values of
every mesh node with its input index (Gmsh node tag − 1, ``input_global_indices``) and its
coordinates (m). DOLFINx 0.5 has no function reader: a restart (on any number of ranks)
re-reads the mesh from ``mesh.xdmf`` (meshes/mesh_xdmf.py; node numbering of that file) and
maps the values back by node coordinates, so a different mesh is refused instead of silently
mixed up.
"""

from __future__ import annotations

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


def p1_input_indices(V: fem.FunctionSpace) -> np.ndarray:
    """Input node index of every local DOF (owned and ghost) of the P1 space ``V``.

    For P1 on an affine mesh the cell DOFs and the cell geometry nodes share the local
    ordering, so DOF ``V.dofmap.list[c][i]`` sits on geometry node ``geometry.dofmap[c][i]``.
    """
    mesh = V.mesh
    index_map = V.dofmap.index_map
    out = np.full(index_map.size_local + index_map.num_ghosts, -1, dtype=np.int64)
    dofs = V.dofmap.list.array
    nodes = mesh.geometry.dofmap.array
    out[dofs] = np.asarray(mesh.geometry.input_global_indices, dtype=np.int64)[nodes]
    return out


def write_checkpoint(
    comm: MPI.Comm, run_dir: Path, meta: dict[str, Any], nodal: dict[str, fem.Function]
) -> None:
    """Gather ``nodal`` (P1 functions) on rank 0 and write them with ``meta`` (collective)."""
    arrays: dict[str, np.ndarray] = {}
    for name, f in nodal.items():
        V = f.function_space
        owned = V.dofmap.index_map.size_local
        coords = V.tabulate_dof_coordinates()[:owned]
        parts = comm.gather((p1_input_indices(V)[:owned], f.x.array[:owned].copy(), coords), root=0)
        if comm.rank == 0:
            assert parts is not None
            index = np.concatenate([p[0] for p in parts])
            order = np.argsort(index)
            arrays[f"{name}/index"] = index[order]
            arrays[f"{name}/values"] = np.concatenate([p[1] for p in parts])[order]
            arrays[f"{name}/coords"] = np.concatenate([p[2] for p in parts])[order]
    if comm.rank == 0:
        path = checkpoint_path(run_dir)
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name("state.tmp.npz")
        np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)
    comm.barrier()


@dataclass(frozen=True)
class Checkpoint:
    """Restart data read back: ``meta`` and the nodal arrays by ``name/index|values|coords``."""

    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @property
    def step(self) -> int:
        """The last completed step."""
        return int(self.meta["step"])

    def restore(self, name: str, f: fem.Function) -> None:
        """Set the P1 function ``f`` to the stored field ``name``, node by node.

        Nodes are matched by their coordinates (quantised on a 2^21 grid per axis over the
        mesh extent), so the mesh may come back with another node numbering (re-read from
        ``mesh.xdmf``) or partition; a mesh that differs is refused.
        """
        values, coords = self.arrays[f"{name}/values"], self.arrays[f"{name}/coords"]
        V = f.function_space
        x = V.tabulate_dof_coordinates()
        lo = coords.min(axis=0) if coords.size else np.zeros(3)
        extent = float(np.ptp(coords, axis=0).max()) if coords.size else 1.0
        stored = _coordinate_keys(coords, lo, extent)
        order = np.argsort(stored)
        mine = _coordinate_keys(x, lo, extent)
        pos = np.searchsorted(stored[order], mine)
        pos[pos >= order.size] = 0
        pos = order[pos]
        ok = (stored[pos] == mine) & np.all(np.abs(coords[pos] - x) <= COORD_RTOL * extent, axis=1)
        if not V.mesh.comm.allreduce(bool(ok.all()), op=MPI.LAND):
            raise CaseError(
                f"checkpoint field {name!r} does not match the mesh (mesh.msh changed since the "
                "checkpoint was written?)"
            )
        f.x.array[:] = values[pos]


def _coordinate_keys(x: np.ndarray, lo: np.ndarray, extent: float) -> np.ndarray:
    """One int64 per point: its coordinates quantised to 21 bits per axis over ``extent``."""
    levels = 2**21 - 1
    q = np.clip(np.rint((x - lo) / max(extent, 1e-300) * levels), 0, levels).astype(np.int64)
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
        self, comm: MPI.Comm, run_dir: Path, every: int, nodal: dict[str, fem.Function]
    ) -> None:
        self._comm, self._run_dir, self._every, self._nodal = comm, run_dir, every, nodal
        self._pending: dict[str, Any] | None = None

    def step_done(self, step: int, meta: dict[str, Any], last: bool) -> None:
        """Step ``step`` is complete (history and fields written); ``meta`` continues it."""
        self._pending = {"step": step, **meta}
        if step % self._every == 0 or last:
            self.flush()

    def flush(self) -> None:
        """Write the last completed step unless already written (collective)."""
        if self._pending is not None:
            write_checkpoint(self._comm, self._run_dir, self._pending, self._nodal)
            self._pending = None
