"""columnar meshes: tags, fractions and areas; jitter, taper, penetration; bad requests rejected."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from meshes.bundle import MeshBundle
from meshes.columnar import ColumnarSpec, build, check, layout
from meshes.errors import GeometryError
from meshes.particle_rve import BOX_FACES
from tests.conftest import ROOT

COMM = MPI.COMM_WORLD
D, GAP, H, TC, TS = 1e-6, 0.2e-6, 2e-6, 0.5e-6, 1e-6


def spec(**kw: object) -> ColumnarSpec:
    data = {
        "kind": "columnar",
        "diameter": D,
        "height": H,
        "gap": GAP,
        "collector": TC,
        "separator": TS,
        "mesh": {"size": 0.3e-6, "interface_size": 0.1e-6},
    }
    return ColumnarSpec.model_validate({**data, **kw})


def integrate(integrand: ufl.Form) -> float:
    return COMM.allreduce(fem.assemble_scalar(fem.form(integrand)), op=MPI.SUM)


@pytest.mark.mpi
def test_columns_tags_fraction_and_areas() -> None:
    bundle = build(COMM, spec())
    assert bundle.cell_names == {"collector": 1, "columns": 2, "separator": 3}
    assert bundle.facet_names == {f: 4 + i for i, f in enumerate(BOX_FACES)} | {
        "collector_columns": 10,
        "columns_separator": 11,
        "columns_void": 12,
    }
    m = bundle.mesh
    dx = ufl.Measure("dx", domain=m, subdomain_data=bundle.cell_tags)
    ds = ufl.Measure("ds", domain=m, subdomain_data=bundle.facet_tags)
    dS = ufl.Measure("dS", domain=m, subdomain_data=bundle.facet_tags)
    p = D + GAP
    cell = p / 2 * p * math.sqrt(3) / 2  # footprint of the symmetry cell
    feet = math.pi * D**2 / 8  # two quarter columns
    assert integrate(1.0 * dx(1)) == pytest.approx(cell * TC, rel=1e-9)
    assert integrate(1.0 * dx(3)) == pytest.approx(cell * TS, rel=1e-9)
    assert integrate(1.0 * dx(2)) == pytest.approx(feet * H, rel=0.01)
    for name in ("collector_columns", "columns_separator"):
        assert integrate(1.0 * dS(bundle.facet_names[name])) == pytest.approx(feet, rel=0.01)
    # the free walls: half the circumference of a column (two quarters), full height
    wall = integrate(1.0 * ds(bundle.facet_names["columns_void"]))
    assert wall == pytest.approx(math.pi * D / 2 * H, rel=0.01)
    for face in ("zmin", "zmax"):
        assert integrate(1.0 * ds(bundle.facet_names[face])) == pytest.approx(cell, rel=1e-9)
    # xmin: full collector and separator, plus the flat face of one quarter column
    xmin = p * math.sqrt(3) / 2 * (TC + TS) + D / 2 * H
    assert integrate(1.0 * ds(bundle.facet_names["xmin"])) == pytest.approx(xmin, rel=1e-9)
    stats = bundle.stats
    requested = math.pi * D**2 / (2 * math.sqrt(3) * p**2)
    assert stats.volume_fractions_requested["columns"] == pytest.approx(requested)
    assert stats.volume_fractions_achieved["columns"] == pytest.approx(requested, rel=1e-6)


@pytest.mark.parametrize("gap", [0.0, -0.1e-6])
def test_overlapping_columns_are_rejected(gap: float) -> None:
    with pytest.raises(GeometryError) as info:
        check(spec(gap=gap))
    assert info.value.key == "gap"


def test_cli_check_names_the_gap() -> None:
    case = ROOT / "cases" / "columnar_si_lpscl.yaml"
    res = subprocess.run(
        [sys.executable, "-m", "solver.cli", "check", str(case), "--set", "geometry.gap=-50 nm"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    assert f"{case}: geometry.gap: columns overlap" in res.stderr


COARSE_MESH = {"size": 0.5e-6, "interface_size": 0.2e-6}


def jittered(**kw: object) -> ColumnarSpec:
    data: dict[str, object] = {
        "arrangement": "jittered",
        "sites": [3, 2],
        "jitter": 0.4,
        "diameter_std": 0.02e-6,
        "seed": 7,
        "mesh": COARSE_MESH,
    }
    return spec(**{**data, **kw})


def test_jittered_layout_is_reproducible_and_keeps_the_count() -> None:
    first, again = layout(jittered()), layout(jittered())
    assert first == again
    other = layout(jittered(seed=8))
    regular = layout(jittered(jitter=0.0, diameter_std=0.0))
    assert len(first) == len(other) == len(regular) == 6
    assert first != other
    moved = [math.hypot(a.x - b.x, a.y - b.y) for a, b in zip(first, regular, strict=True)]
    assert 0 < max(moved) <= 0.4 * GAP * (1 + 1e-12)
    # the walls are half a pitch from the outermost axes: a 3.5 p x (p√3/2 + p) cell
    p = D + GAP
    assert jittered().cell == pytest.approx((3.5 * p, p * math.sqrt(3) / 2 + p))
    assert [c.diameter for c in regular] == [D] * 6


@pytest.mark.parametrize(
    ("kw", "key"),
    [
        ({"jitter": 3.0}, "jitter"),
        ({"jitter": 0.0, "diameter_std": 0.3e-6}, "diameter_std"),
        ({"sites": None}, "sites"),
        ({"taper": 1.25}, "taper"),
        ({"penetration": 2.5e-6}, "penetration"),
    ],
)
def test_impossible_jittered_requests_name_the_key(kw: dict[str, object], key: str) -> None:
    with pytest.raises(GeometryError) as info:
        check(jittered(**kw))
    assert info.value.key == key


@pytest.mark.parametrize("key", ["jitter", "diameter_std", "sites"])
def test_jitter_keys_need_the_jittered_arrangement(key: str) -> None:
    value = {"jitter": 0.2, "diameter_std": 1e-8, "sites": [2, 2]}[key]
    with pytest.raises(GeometryError) as info:
        check(spec(**{key: value}))
    assert info.value.key == key
    assert "arrangement: jittered" in str(info.value)


def frustum(d: float, taper: float) -> float:
    """Volume (m³) of a truncated cone of base diameter d, top diameter taper d, height H."""
    r, s = d / 2, taper * d / 2
    return math.pi * H * (r * r + r * s + s * s) / 3


@pytest.mark.parametrize("arrangement", ["hexagonal", "jittered"])
def test_tapered_column_volume_is_the_frustum_volume(arrangement: str) -> None:
    taper = 0.6
    s = spec(taper=taper, mesh=COARSE_MESH) if arrangement == "hexagonal" else jittered(taper=taper)
    cols = layout(s)
    share = 0.25 if arrangement == "hexagonal" else 1.0  # quarter columns in the symmetry cell
    expected = share * sum(frustum(c.diameter, taper) for c in cols)
    stats = build(COMM, s).stats
    lx, ly = s.cell
    achieved = stats.volume_fractions_achieved["columns"] * lx * ly * H
    assert achieved == pytest.approx(expected, rel=1e-6)
    nominal = share * len(cols) * frustum(D, taper) / (lx * ly * H)
    assert stats.volume_fractions_requested["columns"] == pytest.approx(nominal, rel=1e-12)
    mean = sum(c.diameter for c in cols) / len(cols)
    assert stats.dimensions_achieved["column_diameter"] == pytest.approx(mean, rel=1e-12)
    assert stats.dimensions_requested["column_diameter"] == D


@pytest.mark.mpi
def test_penetration_fills_the_gaps_and_splits_the_walls() -> None:
    depth = 0.8e-6
    plain, filled = build(COMM, spec()), build(COMM, spec(penetration=depth))
    assert filled.facet_names == plain.facet_names

    def measure(bundle: MeshBundle, kind: str, name: str) -> float:
        cells = kind == "dx"
        names = bundle.cell_names if cells else bundle.facet_names
        tags = bundle.cell_tags if cells else bundle.facet_tags
        return integrate(
            1.0 * ufl.Measure(kind, domain=bundle.mesh, subdomain_data=tags)(names[name])
        )

    p = D + GAP
    cell = p / 2 * p * math.sqrt(3) / 2
    half = math.pi * D**2 / 8  # two quarter columns
    fill = (cell - half) * depth
    gained = measure(filled, "dx", "separator") - measure(plain, "dx", "separator")
    assert gained == pytest.approx(fill, rel=0.01)
    assert measure(filled, "dx", "columns") == pytest.approx(half * H, rel=0.01)
    # walls in the fill are bonded to the separator, the rest stays free
    wall = math.pi * D / 2  # per unit height
    assert measure(filled, "ds", "columns_void") == pytest.approx(wall * (H - depth), rel=0.01)
    head = measure(filled, "dS", "columns_separator")
    assert head == pytest.approx(half + wall * depth, rel=0.01)
    achieved = filled.stats.dimensions_achieved["penetration"]
    assert achieved == pytest.approx(depth, rel=1e-9)
    assert plain.stats.dimensions_achieved["penetration"] == pytest.approx(0.0, abs=1e-15)


def test_full_penetration_bonds_the_collector_to_the_separator() -> None:
    names = build(COMM, spec(penetration=H, mesh=COARSE_MESH)).facet_names
    assert "collector_separator" in names and "columns_void" not in names


def test_cli_check_names_the_jitter() -> None:
    case = ROOT / "cases" / "si_rods_lps.yaml"
    sets = ["geometry.arrangement=jittered", "geometry.sites=[3, 2]", "geometry.jitter=3"]
    res = subprocess.run(
        [sys.executable, "-m", "solver.cli", "check", str(case)]
        + [a for s in sets for a in ("--set", s)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    assert f"{case}: geometry.jitter: " in res.stderr and "overlap after the jitter" in res.stderr
