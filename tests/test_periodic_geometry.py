"""Periodic placement: minimum-image packing (RSA, rearrangement), images, periodic mesh."""

from __future__ import annotations

import numpy as np
import pytest
from dolfinx import fem
from mpi4py import MPI

from meshes.bundle import MeshBundle, Particle
from meshes.errors import GeometryError
from meshes.packing import check_explicit, pack_random, sphere_volume
from meshes.particle_rve import ParticleRVESpec, build, periodic_images
from meshes.rearrange import pack_dense
from tests.test_packing import BOX, GAP, arrays, explicit, spec

COMM = MPI.COMM_WORLD
L = 1e-6


def periodic_gaps(particles: list[Particle], box: np.ndarray = BOX) -> np.ndarray:
    """Surface gaps between all pairs, measured to the nearest periodic image (m)."""
    c, r = arrays(particles)
    diff = c[:, None] - c[None]
    diff -= box * np.round(diff / box)
    d = np.linalg.norm(diff, axis=2) - r[:, None] - r[None]
    np.fill_diagonal(d, np.inf)
    return d


def full_fraction(particles: list[Particle], box: np.ndarray = BOX) -> float:
    return float(sum(sphere_volume(p.radius) for p in particles)) / float(np.prod(box))


@pytest.mark.parametrize("packer", ["rsa", "rearrange"])
def test_periodic_packing_keeps_the_gap_to_images(packer: str) -> None:
    fraction = 0.25 if packer == "rsa" else 0.45
    s = spec(placement="periodic", volume_fraction=fraction, packer=packer)
    particles = (pack_random if packer == "rsa" else pack_dense)(s, BOX)
    c, r = arrays(particles)
    assert np.all((c >= 0) & (c <= BOX))
    assert np.any(c - r[:, None] < 0) and np.any(c + r[:, None] > BOX)  # some cross faces
    assert periodic_gaps(particles).min() >= GAP * (1 - 1e-9)
    # the plain distance would miss pairs that touch only through a face
    for face_distance in (c, BOX - c):  # cut faces of the images are no slivers
        assert np.all(np.abs(face_distance - r[:, None]) >= GAP * (1 - 1e-9))
    # the cell holds full spheres: the fraction is within half the smallest particle
    assert abs(full_fraction(particles) - fraction) <= 0.5 * sphere_volume(r.max()) / np.prod(BOX)


def test_explicit_periodic_overlap_through_a_face() -> None:
    items = (([0.1e-6, 1e-6, 1e-6], 0.3e-6), ([1.8e-6, 1e-6, 1e-6], 0.3e-6))
    check_explicit(explicit(*items, placement="clipped"), BOX)  # apart inside the box
    wrapped = explicit(*items, placement="periodic")
    with pytest.raises(GeometryError, match="periodic images"):
        check_explicit(wrapped, BOX)


def test_images_of_a_corner_particle() -> None:
    box = np.array([L, L, L])
    images = periodic_images([Particle((0.1e-6, 0.9e-6, 0.5e-6), 0.2e-6)], box)
    assert len(images) == 4  # crosses xmin and ymax: itself + 3 images
    corner = periodic_images([Particle((0.1e-6, 0.1e-6, 0.1e-6), 0.2e-6)], box)
    assert len(corner) == 8
    assert {p.center for p in corner} == {
        (0.1e-6 + i * L, 0.1e-6 + j * L, 0.1e-6 + k * L)
        for i in (0, 1)
        for j in (0, 1)
        for k in (0, 1)
    }


def periodic_spec(items: list[tuple[list[float], float]]) -> ParticleRVESpec:
    return ParticleRVESpec.model_validate(
        {
            "box": [L, L, L],
            "particles": {
                "mode": "explicit",
                "placement": "periodic",
                "items": [{"center": c, "radius": r} for c, r in items],
            },
            "mesh": {"size": 0.2e-6, "interface_size": 0.08e-6},
        }
    )


def face_points(bundle: MeshBundle, name: str) -> np.ndarray:
    """Coordinates (m) of the mesh vertices on a named face, gathered from all ranks."""
    V = fem.FunctionSpace(bundle.mesh, ("CG", 1))
    owned = V.dofmap.index_map.size_local
    facets = bundle.facet_tags.indices[bundle.facet_tags.values == bundle.facet_names[name]]
    dofs = fem.locate_dofs_topological(V, 2, facets)
    x = V.tabulate_dof_coordinates()[dofs[dofs < owned]]
    return np.concatenate(COMM.allgather(x))


@pytest.mark.mpi
def test_periodic_geometry_holds_full_spheres_and_mesh_is_periodic() -> None:
    items = [([0.1e-6, 0.15e-6, 0.9e-6], 0.3e-6), ([0.6e-6, 0.6e-6, 0.5e-6], 0.2e-6)]
    bundle = build(COMM, periodic_spec(items))
    spheres = sum(float(sphere_volume(r)) for _, r in items) / L**3
    assert bundle.stats.volume_fractions_achieved["particles"] == pytest.approx(spheres, rel=1e-6)
    for axis, (low, high) in enumerate((("xmin", "xmax"), ("ymin", "ymax"), ("zmin", "zmax"))):
        master, slave = face_points(bundle, low), face_points(bundle, high)
        slave[:, axis] -= L
        assert master.shape == slave.shape
        dist = np.linalg.norm(master[:, None] - slave[None], axis=2)
        assert dist.min(axis=0).max() < 1e-12 * L  # every xmax node is a translated xmin node
        assert dist.min(axis=1).max() < 1e-12 * L


def test_periodic_needs_a_matrix() -> None:
    with pytest.raises(ValueError, match="needs the matrix"):
        ParticleRVESpec.model_validate(
            {
                "box": [L, L, L],
                "matrix": False,
                "particles": {
                    "mode": "explicit",
                    "placement": "periodic",
                    "items": [{"center": [L / 2] * 3, "radius": 0.2e-6}],
                },
                "mesh": {"size": 0.2e-6},
            }
        )
