"""particle_rve meshes: tags by name, region volumes, interface and face areas (serial + MPI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from meshes.bundle import MeshBundle
from meshes.errors import GeometryError
from meshes.particle_rve import BOX_FACES, ParticleRVESpec, build

COMM = MPI.COMM_WORLD
L = 1e-6
A = 0.3e-6
SPHERE = 4 / 3 * np.pi * A**3


def rve(**kw: object) -> ParticleRVESpec:
    data = {
        "box": [L, L, L],
        "particles": {"mode": "explicit", "items": [{"center": [L / 2] * 3, "radius": A}]},
        "mesh": {"size": 0.15e-6, "interface_size": 0.04e-6},
    }
    return ParticleRVESpec.model_validate({**data, **kw})


def integrate(integrand: ufl.Form) -> float:
    return COMM.allreduce(fem.assemble_scalar(fem.form(integrand)), op=MPI.SUM)


def measures(bundle: MeshBundle) -> tuple[ufl.Measure, ufl.Measure, ufl.Measure]:
    m, ct, ft = bundle.mesh, bundle.cell_tags, bundle.facet_tags
    return (
        ufl.Measure("dx", domain=m, subdomain_data=ct),
        ufl.Measure("ds", domain=m, subdomain_data=ft),
        ufl.Measure("dS", domain=m, subdomain_data=ft),
    )


def indicator(bundle: MeshBundle, region: str) -> fem.Function:
    """DG0 function: 1 in the cells of ``region``, 0 elsewhere."""
    chi = fem.Function(fem.FunctionSpace(bundle.mesh, ("DG", 0)))
    cells = bundle.cell_tags.find(bundle.cell_names[region])
    chi.x.array[cells] = 1.0
    chi.x.scatter_forward()
    return chi


@pytest.mark.mpi
def test_tags_volumes_and_areas_by_name() -> None:
    bundle = build(COMM, rve())
    assert bundle.cell_names == {"particles": 1, "matrix": 2}
    assert bundle.facet_names == {"interface": 3} | {f: 4 + i for i, f in enumerate(BOX_FACES)}
    dx, ds, dS = measures(bundle)
    assert integrate(1.0 * dx(1)) == pytest.approx(SPHERE, rel=0.02)
    assert integrate(1.0 * dx(2)) == pytest.approx(L**3 - SPHERE, rel=0.01)
    assert integrate(1.0 * dx(1) + 1.0 * dx(2)) == pytest.approx(L**3, rel=1e-9)
    assert integrate(1.0 * dS(3)) == pytest.approx(4 * np.pi * A**2, rel=0.02)
    for face in BOX_FACES:
        assert integrate(1.0 * ds(bundle.facet_names[face])) == pytest.approx(L**2, rel=1e-9)
    num_cells = COMM.allreduce(bundle.mesh.topology.index_map(3).size_local, op=MPI.SUM)
    stats = bundle.stats
    assert stats.num_cells == num_cells
    assert stats.num_vertices == bundle.mesh.geometry.index_map().size_global
    assert stats.volume_fractions_achieved["particles"] == pytest.approx(SPHERE / L**3, rel=1e-6)
    assert stats.volume_fractions_requested == {}
    assert 0.05 < stats.min_quality <= 1


@pytest.mark.mpi
def test_clipped_particles_belong_to_box_faces() -> None:
    spec = rve(
        particles={
            "mode": "explicit",
            "placement": "clipped",
            "items": [{"center": [0.0, L / 2, L / 2], "radius": A}],
        }
    )
    bundle = build(COMM, spec)
    dx, ds, dS = measures(bundle)
    xmin = bundle.facet_names["xmin"]
    assert integrate(1.0 * ds(xmin)) == pytest.approx(L**2, rel=1e-9)
    # the flat disc of the half sphere is part of xmin, not of the interface
    disc = integrate(indicator(bundle, "particles") * ds(xmin))
    assert disc == pytest.approx(np.pi * A**2, rel=0.03)
    assert integrate(1.0 * dS(bundle.facet_names["interface"])) == pytest.approx(
        2 * np.pi * A**2, rel=0.02
    )
    assert integrate(1.0 * dx(bundle.cell_names["particles"])) == pytest.approx(
        SPHERE / 2, rel=0.02
    )
    assert bundle.stats.volume_fractions_achieved["particles"] == pytest.approx(
        0.5 * SPHERE / L**3, rel=1e-6
    )


@pytest.mark.mpi
def test_free_standing_particle() -> None:
    bundle = build(COMM, rve(matrix=False))
    assert bundle.cell_names == {"particles": 1}
    assert bundle.facet_names == {"particle_surface": 2}
    dx, ds, _ = measures(bundle)
    assert integrate(1.0 * dx(1)) == pytest.approx(SPHERE, rel=0.02)
    assert integrate(1.0 * ds(2)) == pytest.approx(4 * np.pi * A**2, rel=0.02)


@pytest.mark.mpi
def test_random_rve_reports_requested_and_achieved(tmp_path: Path) -> None:
    spec = rve(
        particles={
            "mode": "random",
            "volume_fraction": 0.15,
            "radius_mean": 0.15e-6,
            "radius_std": 0.03e-6,
            "min_gap": 0.02e-6,
            "seed": 1,
        }
    )
    msh = COMM.bcast(tmp_path / "mesh.msh", root=0)
    bundle = build(COMM, spec, msh_path=msh)
    stats = bundle.stats
    assert stats.volume_fractions_requested == {"particles": 0.15}
    smallest = 4 / 3 * np.pi * min(p.radius for p in stats.particles) ** 3 / L**3
    assert abs(stats.volume_fractions_achieved["particles"] - 0.15) <= 0.5 * smallest
    dx, _, dS = measures(bundle)
    area = sum(4 * np.pi * p.radius**2 for p in stats.particles)
    assert integrate(1.0 * dS(bundle.facet_names["interface"])) == pytest.approx(area, rel=0.03)
    assert integrate(1.0 * dx(bundle.cell_names["particles"])) / L**3 == pytest.approx(
        stats.volume_fractions_achieved["particles"], rel=0.03
    )
    header = COMM.bcast(msh.read_text()[:2000] if COMM.rank == 0 else None, root=0)
    assert '"particles"' in header and '"interface"' in header  # named physical groups
    coords = COMM.bcast(_msh_extent(msh) if COMM.rank == 0 else None, root=0)
    assert coords == pytest.approx(L, rel=1e-9)  # saved in metres


def _msh_extent(path: Path) -> float:
    """Largest node coordinate in a Gmsh 4 ASCII file."""
    lines = path.read_text().splitlines()
    start, end = lines.index("$Nodes"), lines.index("$EndNodes")
    values = [float(v) for line in lines[start + 2 : end] if len(f := line.split()) == 3 for v in f]
    return max(values)


@pytest.mark.mpi
def test_geometry_error_raised_on_every_rank() -> None:
    spec = rve(
        particles={
            "mode": "explicit",
            "items": [
                {"center": [0.35e-6] * 3, "radius": 0.25e-6},
                {"center": [0.6e-6] * 3, "radius": 0.25e-6},
            ],
        }
    )
    with pytest.raises(GeometryError, match="particles 0 and 1 overlap"):
        build(COMM, spec)
