"""Read a run directory (files only, never DOLFINx) into a frozen :class:`RunData`.

The fields come from ``fields.xdmf`` (XDMF 3, as written by ``dolfinx.io.XDMFFile``): one
uniform ``mesh`` grid (tetrahedra, or triangles of a 2D plane-strain run; geometry in m, 2D
coordinates padded with z = 0) and one temporal collection per function
whose attributes point into ``fields.h5``. A restarted run continues in
``fields_restart<N>.xdmf`` (listed in summary.json ``restarts`` with the time it resumed
after): part N supplies the times after its restart time, earlier parts the times up to it.
A part written on another number of ranks orders nodes and cells differently; its values are
permuted into the order of ``fields.xdmf`` (nodes matched by coordinates, cells by nodes), so
every step reads as if written on one mesh. :meth:`RunData.grid_at` turns one time step into a
``pyvista.UnstructuredGrid`` carrying every field at that step (SI units: u in m, stresses in
Pa, ``theta`` and ``crack_risk`` dimensionless, ``region`` the integer cell tag). A 2D run
writes the in-plane ``sigma`` (zz slot 0) and ``sigma_zz`` separately; the grid's ``sigma``
gets σ_zz back in its zz slot, so it is the full 3×3 Cauchy stress.
"""

from __future__ import annotations

import csv
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyvista as pv
import yaml

from postprocess.errors import RenderError

__all__ = ["FieldSeries", "RenderError", "RunData", "read_run"]

FIELDS_XDMF = "fields.xdmf"
TAGS_JSON = "tags.json"
CASE_YAML = "case.resolved.yaml"
HISTORY_CSV = "history.csv"
SUMMARY_JSON = "summary.json"

#: Relative tolerance when matching a requested time to the written times.
_TIME_RTOL = 1e-9
#: XDMF topology types read (3D runs: tetrahedra, 2D plane-strain runs: triangles)
_TOPOLOGIES = ("tetrahedron", "triangle")


@dataclass(frozen=True)
class FieldSeries:
    """One function's time series: where each step's values live in the HDF5 file.

    ``times`` (s) are sorted ascending; ``datasets[i]`` is the HDF5 path of ``times[i]``;
    ``center`` is ``"Node"`` or ``"Cell"``.
    """

    name: str
    center: str
    times: tuple[float, ...]
    datasets: tuple[str, ...]
    parts: tuple[int, ...] = ()
    """Fields file (0: fields.xdmf, N: fields_restart<N>.xdmf) of each time; () all in 0."""

    def part(self, index: int) -> int:
        """Fields file of the ``index``-th time."""
        return self.parts[index] if self.parts else 0

    def index_at(self, time: float) -> int | None:
        """Index of the latest written time ≤ ``time`` (s), or None if there is none."""
        tol = _TIME_RTOL * max(1.0, abs(time))
        candidates = [i for i, t in enumerate(self.times) if t <= time + tol]
        return candidates[-1] if candidates else None


@dataclass(frozen=True)
class RunData:
    """Everything postprocess needs from one run directory (all values SI)."""

    run_dir: Path
    case_name: str
    #: region name → material name, e.g. {"particles": "Si", "matrix": "Li6PS5Cl"}
    materials: Mapping[str, str]
    #: cell tag name → integer tag, e.g. {"particles": 1, "matrix": 2}
    cell_tags: Mapping[str, int]
    #: facet tag name → integer tag
    facet_tags: Mapping[str, int]
    #: field name → time series
    fields: Mapping[str, FieldSeries]
    #: history.csv column → values per accepted step (empty if there is no history yet)
    history: Mapping[str, np.ndarray]
    #: summary.json as written (empty if absent)
    summary: Mapping[str, Any]
    #: case.resolved.yaml as written (empty if absent)
    case: Mapping[str, Any] = field(default_factory=dict)
    _h5_path: Path = field(default=Path(), repr=False)
    _topology: str = field(default="", repr=False)
    _geometry: str = field(default="", repr=False)
    _parts: tuple[_Part, ...] = field(default=(), repr=False)

    def times(self, name: str) -> tuple[float, ...]:
        """Written times (s) of field ``name``."""
        if name not in self.fields:
            raise KeyError(f"field {name!r} not in {FIELDS_XDMF} (have {sorted(self.fields)})")
        return self.fields[name].times

    @property
    def last_time(self) -> float:
        """Latest time (s) any field was written at."""
        return max(s.times[-1] for s in self.fields.values())

    @property
    def status(self) -> str:
        """``summary.json`` status, or ``"unknown"``."""
        return str(self.summary.get("status", "unknown"))

    def step_at(self, time: float) -> tuple[int, float | None]:
        """(step number, SOC) of the history row at ``time`` (s); SOC None without history."""
        t = self.history.get("time_s")
        if t is None or len(t) == 0:
            return self._field_step(time), None
        i = int(np.argmin(np.abs(t - time)))
        soc = self.history.get("soc")
        return i, (float(soc[i]) if soc is not None else None)

    def _field_step(self, time: float) -> int:
        longest = max(self.fields.values(), key=lambda s: len(s.times))
        return longest.index_at(time) or 0

    def read_field(self, name: str, index: int) -> np.ndarray:
        """Values (SI) of field ``name`` at its ``index``-th written time, in mesh order."""
        series = self.fields[name]
        part = self._parts[series.part(index)] if self._parts else None
        h5_path = part.h5_path if part else self._h5_path
        try:
            with _open_h5(h5_path) as h5:
                values = np.asarray(h5[series.datasets[index]])
        except (OSError, KeyError) as exc:
            raise RenderError(f"{h5_path}: cannot read {name!r}: {exc}") from exc
        if part is None:
            return values
        perm = part.node_order if series.center == "Node" else part.cell_order
        return values if perm is None else values[perm]

    def field_width(self, name: str) -> int:
        """Components per row of field ``name`` (1 scalar, 3 vector, 9 tensor)."""
        try:
            with _open_h5(self._h5_path) as h5:
                shape = h5[self.fields[name].datasets[0]].shape
        except (OSError, KeyError) as exc:
            raise RenderError(f"{self._h5_path}: cannot read {name!r}: {exc}") from exc
        return int(shape[1]) if len(shape) == 2 else 1

    def cell_regions(self) -> np.ndarray | None:
        """Integer region tag per cell (None if the run wrote no ``region`` field)."""
        if "region" not in self.fields:
            return None
        return np.rint(self.read_field("region", 0)).astype(np.int32).reshape(-1)

    def mesh_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(cells N×4 tetrahedra or N×3 triangles, vertex coordinates M×3 in m)."""
        try:
            with _open_h5(self._h5_path) as h5:
                return (
                    np.asarray(h5[self._topology], dtype=np.int64),
                    _pad_xyz(np.asarray(h5[self._geometry], dtype=np.float64)),
                )
        except (OSError, KeyError) as exc:
            raise RenderError(f"{self._h5_path}: cannot read the mesh: {exc}") from exc

    def cell_volumes(self) -> np.ndarray:
        """Cell volumes (m3): tetrahedra |det[b−a, c−a, d−a]|/6; 2D triangles: areas (m2)."""
        topology, geometry = self.mesh_arrays()
        edges = geometry[topology][:, 1:] - geometry[topology][:, :1]
        if topology.shape[1] == 3:
            return 0.5 * np.linalg.norm(np.cross(edges[:, 0], edges[:, 1]), axis=1)
        return np.abs(np.linalg.det(edges)) / 6.0

    def grid_at(self, time: float | None = None) -> pv.UnstructuredGrid:
        """Mesh with every field at ``time`` (s; default the last), as point/cell data.

        Each field takes its latest written time ≤ ``time`` (``region`` is written once).
        Tensor ``sigma`` is N×9 row-major (Pa). Geometry is in m.
        """
        t = self.last_time if time is None else float(time)
        topo, geom = self.mesh_arrays()
        data = {}
        for name, series in self.fields.items():
            i = series.index_at(t)
            if i is not None:
                data[name] = (series.center, self.read_field(name, i))
        if topo.ndim != 2 or topo.shape[1] not in (3, 4):
            raise RenderError(
                f"{self._h5_path}: topology {topo.shape} is not N×4 tetrahedra or N×3 triangles"
            )
        if geom.ndim != 2 or geom.shape[1] != 3:
            raise RenderError(f"{self._h5_path}: geometry {geom.shape} is not M×2 or M×3")
        width = topo.shape[1]
        cell_type = pv.CellType.TETRA if width == 4 else pv.CellType.TRIANGLE
        cells = np.hstack([np.full((len(topo), 1), width, dtype=np.int64), topo]).ravel()
        types = np.full(len(topo), cell_type, dtype=np.uint8)
        grid = pv.UnstructuredGrid(cells, types, geom)
        if "sigma" in data and "sigma_zz" in data and width == 3:  # 2D: σ_zz into the zz slot
            center, sigma = data["sigma"]
            sigma = sigma.copy()
            sigma[:, 8] = data["sigma_zz"][1].reshape(-1)
            data["sigma"] = (center, sigma)
        for name, (center, values) in data.items():
            target, n = (
                (grid.point_data, grid.n_points)
                if center == "Node"
                else (grid.cell_data, grid.n_cells)
            )
            if values.shape[0] != n:
                raise RenderError(
                    f"{self._h5_path}: field {name!r} has {values.shape[0]} rows, expected {n}"
                )
            values = values[:, 0] if values.ndim == 2 and values.shape[1] == 1 else values
            target[name] = np.rint(values).astype(np.int32) if name == "region" else values
        return grid


def _pad_xyz(geom: np.ndarray) -> np.ndarray:
    """Vertex coordinates M×3 (m): 2D (M×2, XY) geometry gets z = 0."""
    if geom.ndim == 2 and geom.shape[1] == 2:
        return np.hstack([geom, np.zeros((len(geom), 1))])
    return geom


def _open_h5(path: Path) -> h5py.File:
    """Open ``path`` read-only; a run still writing holds an HDF5 lock, so retry without locks.

    HDF5 reads ``HDF5_USE_FILE_LOCKING`` at each open; it is set only if the user has not.
    """
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        if "lock" not in str(exc).lower() or "HDF5_USE_FILE_LOCKING" in os.environ:
            raise
    os.environ["HDF5_USE_FILE_LOCKING"] = "FALSE"
    return h5py.File(path, "r")


@dataclass(frozen=True)
class _Part:
    """One fields file: its HDF5 file and the permutations into the mesh order of part 0.

    ``node_order[i]`` / ``cell_order[i]`` is the row of this part holding node / cell ``i`` of
    part 0 (None: same order).
    """

    h5_path: Path
    node_order: np.ndarray | None
    cell_order: np.ndarray | None


def read_run(run_dir: Path) -> RunData:
    """Read ``run_dir``; raise :class:`RenderError` naming the missing or invalid file.

    ``fields.xdmf``/``fields.h5`` and ``tags.json`` are required; ``case.resolved.yaml``,
    ``history.csv`` and ``summary.json`` are read when present (a running or failed run may
    lack some of them); the ``fields_restart<N>.xdmf`` of a restarted run are merged in.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RenderError(f"run directory {run_dir} does not exist")
    h5_path, topology, geometry, fields = _read_xdmf(run_dir / FIELDS_XDMF)
    tags = _read_mapping(run_dir / TAGS_JSON, required=True)
    summary = _read_mapping(run_dir / SUMMARY_JSON, required=False)
    case = _read_mapping(run_dir / CASE_YAML, required=False)
    history = _read_history(run_dir / HISTORY_CSV)
    materials = _material_names(case, summary)
    name = case.get("name") or summary.get("case") or run_dir.name
    try:
        cell_tags = {str(k): int(v) for k, v in tags.get("cells", {}).items()}
        facet_tags = {str(k): int(v) for k, v in tags.get("facets", {}).items()}
    except (AttributeError, TypeError, ValueError) as exc:
        raise RenderError(f"{run_dir / TAGS_JSON}: invalid tag map: {exc}") from exc
    parts: tuple[_Part, ...] = ()
    restarts = [r for r in summary.get("restarts", []) if (run_dir / r.get("fields", "")).is_file()]
    if restarts:
        fields, parts = _merge_restarts(run_dir, h5_path, topology, geometry, fields, restarts)
    return RunData(
        run_dir=run_dir,
        case_name=str(name),
        materials=materials,
        cell_tags=cell_tags,
        facet_tags=facet_tags,
        fields=fields,
        history=history,
        summary=summary,
        case=case,
        _h5_path=h5_path,
        _topology=topology,
        _geometry=geometry,
        _parts=parts,
    )


def _merge_restarts(
    run_dir: Path,
    h5_path: Path,
    topology: str,
    geometry: str,
    fields: dict[str, FieldSeries],
    restarts: list[dict[str, Any]],
) -> tuple[dict[str, FieldSeries], tuple[_Part, ...]]:
    """Time series over fields.xdmf and the restart parts, and the parts (see module doc)."""
    mesh0 = _mesh(h5_path, topology, geometry)
    parts = [_Part(h5_path, None, None)]
    series = [fields]
    for r in restarts:
        h5_n, topo_n, geom_n, fields_n = _read_xdmf(run_dir / r["fields"])
        parts.append(_Part(h5_n, *_mesh_order(mesh0, _mesh(h5_n, topo_n, geom_n), h5_n)))
        series.append(fields_n)
    starts = [-math.inf] + [float(r["time_s"]) for r in restarts] + [math.inf]
    entries: dict[str, list[tuple[float, str, int, str]]] = {}
    for k, part_fields in enumerate(series):
        end = starts[k + 1] * (1 + _TIME_RTOL) if math.isfinite(starts[k + 1]) else math.inf
        for name, s in part_fields.items():
            for t, dataset in zip(s.times, s.datasets, strict=True):
                if t <= end:
                    entries.setdefault(name, []).append((t, dataset, k, s.center))
    merged = {}
    for name, items in entries.items():
        items.sort(key=lambda e: (e[0], e[2]))
        merged[name] = FieldSeries(
            name=name,
            center=items[0][3],
            times=tuple(e[0] for e in items),
            datasets=tuple(e[1] for e in items),
            parts=tuple(e[2] for e in items),
        )
    return merged, tuple(parts)


def _mesh(h5_path: Path, topology: str, geometry: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with _open_h5(h5_path) as h5:
            return (
                np.asarray(h5[topology], dtype=np.int64),
                np.asarray(h5[geometry], dtype=np.float64),
            )
    except (OSError, KeyError) as exc:
        raise RenderError(f"{h5_path}: cannot read the mesh: {exc}") from exc


def _mesh_order(
    mesh0: tuple[np.ndarray, np.ndarray], mesh: tuple[np.ndarray, np.ndarray], where: Path
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(node_order, cell_order) taking ``mesh`` (same cells, other order) to ``mesh0``."""
    (topo0, geom0), (topo, geom) = mesh0, mesh
    tol = 1e-9 * float(np.ptp(geom0, axis=0).max())
    if topo.shape != topo0.shape or geom.shape != geom0.shape:
        raise RenderError(f"{where}: the restart part's mesh differs from fields.h5's")
    if np.array_equal(topo, topo0) and np.abs(geom - geom0).max() <= tol:
        return None, None
    s0 = np.lexsort(geom0.T[::-1])
    s1 = np.lexsort(geom.T[::-1])
    if np.abs(geom[s1] - geom0[s0]).max() > tol:
        raise RenderError(f"{where}: cannot match the restart part's nodes to fields.h5's")
    node_order = np.empty_like(s0)
    node_order[s0] = s1  # node i of part 0 is node node_order[i] here
    to0 = np.empty_like(s0)
    to0[s1] = s0  # node j here is node to0[j] of part 0
    keys0 = np.sort(topo0, axis=1)
    keys = np.sort(to0[topo], axis=1)
    c0 = np.lexsort(keys0.T[::-1])
    c1 = np.lexsort(keys.T[::-1])
    if not np.array_equal(keys0[c0], keys[c1]):
        raise RenderError(f"{where}: cannot match the restart part's cells to fields.h5's")
    cell_order = np.empty_like(c0)
    cell_order[c0] = c1
    return node_order, cell_order


def _read_xdmf(path: Path) -> tuple[Path, str, str, dict[str, FieldSeries]]:
    """Mesh dataset paths and per-field time series from an XDMF 3 file."""
    if not path.is_file():
        raise RenderError(f"{path} not found (the run wrote no fields yet?)")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise RenderError(f"{path}: invalid XML: {exc}") from exc
    domain = root.find("Domain")
    if domain is None:
        raise RenderError(f"{path}: no <Domain>")
    mesh = next((g for g in domain.findall("Grid") if g.get("GridType") == "Uniform"), None)
    if mesh is None:
        raise RenderError(f"{path}: no uniform mesh grid")
    topo_item = mesh.find("Topology/DataItem")
    geom_item = mesh.find("Geometry/DataItem")
    if topo_item is None or geom_item is None:
        raise RenderError(f"{path}: mesh grid lacks Topology or Geometry data")
    topo_type = (mesh.find("Topology").get("TopologyType") or "").lower()  # type: ignore[union-attr]
    if topo_type not in _TOPOLOGIES:
        raise RenderError(
            f"{path}: topology {topo_type!r} unsupported (need Tetrahedron or Triangle)"
        )
    h5_file, topology = _hdf_ref(path, topo_item.text)
    _, geometry = _hdf_ref(path, geom_item.text)
    steps: dict[str, list[tuple[float, str, str]]] = {}
    for coll in domain.findall("Grid"):
        if coll.get("GridType") != "Collection":
            continue
        for grid in coll.findall("Grid"):
            time_el = grid.find("Time")
            for attr in grid.findall("Attribute"):
                item = attr.find("DataItem")
                if time_el is None or item is None:
                    continue
                try:
                    t = float(time_el.get("Value", "nan"))
                except ValueError as exc:
                    raise RenderError(f"{path}: bad time value: {exc}") from exc
                if not math.isfinite(t):
                    raise RenderError(f"{path}: grid {grid.get('Name')!r} has no valid <Time>")
                _, dataset = _hdf_ref(path, item.text)
                name = attr.get("Name") or coll.get("Name") or "?"
                steps.setdefault(name, []).append((t, dataset, attr.get("Center", "Node")))
    if not h5_file.is_file():
        raise RenderError(f"{h5_file} not found (referenced by {path.name})")
    fields = {}
    for name, entries in steps.items():
        entries.sort(key=lambda e: e[0])
        fields[name] = FieldSeries(
            name=name,
            center=entries[0][2],
            times=tuple(e[0] for e in entries),
            datasets=tuple(e[1] for e in entries),
        )
    if not fields:
        raise RenderError(f"{path}: no time series written yet")
    return h5_file, topology, geometry, fields


def _hdf_ref(xdmf: Path, text: str | None) -> tuple[Path, str]:
    """Split ``"fields.h5:/Function/u/0"`` into (absolute HDF5 path, dataset path)."""
    if not text or ":" not in text:
        raise RenderError(f"{xdmf}: DataItem {text!r} is not an HDF5 reference")
    file_part, dataset = text.strip().rsplit(":", 1)
    h5 = Path(file_part)
    return (h5 if h5.is_absolute() else xdmf.parent / h5), dataset


def _read_mapping(path: Path, required: bool) -> dict[str, Any]:
    """A JSON or YAML file holding a mapping (YAML parses JSON too); {} if absent and optional."""
    if not path.is_file():
        if required:
            raise RenderError(f"{path} not found")
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RenderError(f"{path}: cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise RenderError(f"{path}: expected a mapping of keys")
    return data


def _read_history(path: Path) -> dict[str, np.ndarray]:
    """Columns of ``history.csv`` as float arrays (empty cells → NaN); {} if absent."""
    if not path.is_file():
        return {}
    try:
        with path.open(newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise RenderError(f"{path}: {exc}") from exc
    if not rows:
        return {}
    header, body = rows[0], [r for r in rows[1:] if r]
    try:
        values = [[float(v) if v.strip() else math.nan for v in r] for r in body]
    except ValueError as exc:
        raise RenderError(f"{path}: non-numeric value: {exc}") from exc
    if any(len(r) != len(header) for r in values):
        raise RenderError(f"{path}: rows do not match the {len(header)} header columns")
    table = np.array(values, dtype=float).reshape(len(values), len(header))
    return {name.strip(): table[:, j] for j, name in enumerate(header)}


def _material_names(case: Mapping[str, Any], summary: Mapping[str, Any]) -> dict[str, str]:
    """Region → material name from the resolved case, else from the summary."""
    resolved = case.get("materials")
    if isinstance(resolved, dict) and resolved:
        out = {}
        for region, mat in resolved.items():
            out[str(region)] = str(mat.get("name", region)) if isinstance(mat, dict) else str(mat)
        return out
    listed = summary.get("materials")
    return {str(k): str(v) for k, v in listed.items()} if isinstance(listed, dict) else {}
