"""particle_rve meshes: tags by name, region volumes, interface and face areas (serial + MPI)."""

from __future__ import annotations

import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from meshes.bundle import MeshBundle
from meshes.particle_rve import BOX_FACES, ParticleRVESpec, build

L = 1e-6
A = 0.3e-6


def rve(**kw: object) -> ParticleRVESpec:
    data = {
        "box": [L, L, L],
        "particles": {"mode": "explicit", "items": [{"center": [L / 2] * 3, "radius": A}]},
        "mesh": {"size": 0.15e-6, "interface_size": 0.04e-6},
    }
    return ParticleRVESpec.model_validate({**data, **kw})


def integrate(bundle: MeshBundle, integrand: ufl.Form) -> float:
    return MPI.COMM_WORLD.allreduce(fem.assemble_scalar(fem.form(integrand)), op=MPI.SUM)


@pytest.mark.mpi
def test_volumes_and_areas_by_name() -> None:
    bundle = build(MPI.COMM_WORLD, rve())
    dx = ufl.Measure("dx", domain=bundle.mesh, subdomain_data=bundle.cell_tags)
    ds = ufl.Measure("ds", domain=bundle.mesh, subdomain_data=bundle.facet_tags)
    dS = ufl.Measure("dS", domain=bundle.mesh, subdomain_data=bundle.facet_tags)
    sphere = 4 / 3 * np.pi * A**3
    assert integrate(bundle, 1.0 * dx(bundle.cell_names["particles"])) == pytest.approx(
        sphere, rel=0.02
    )
    assert integrate(bundle, 1.0 * dx(bundle.cell_names["matrix"])) == pytest.approx(
        L**3 - sphere, rel=0.01
    )
    assert integrate(bundle, 1.0 * dS(bundle.facet_names["interface"])) == pytest.approx(
        4 * np.pi * A**2, rel=0.02
    )
    for face in BOX_FACES:
        assert integrate(bundle, 1.0 * ds(bundle.facet_names[face])) == pytest.approx(
            L**2, rel=1e-9
        )
    assert bundle.stats.volume_fractions_achieved["particles"] == pytest.approx(
        sphere / L**3, rel=1e-6
    )
    assert 0.05 < bundle.stats.min_quality <= 1


def test_clipped_particles_belong_to_box_faces() -> None:
    spec = rve(
        particles={
            "mode": "explicit",
            "placement": "clipped",
            "items": [{"center": [0.0, L / 2, L / 2], "radius": A}],
        }
    )
    bundle = build(MPI.COMM_WORLD, spec)
    ds = ufl.Measure("ds", domain=bundle.mesh, subdomain_data=bundle.facet_tags)
    assert integrate(bundle, 1.0 * ds(bundle.facet_names["xmin"])) == pytest.approx(L**2, rel=1e-9)
    assert bundle.stats.volume_fractions_achieved["particles"] == pytest.approx(
        0.5 * 4 / 3 * np.pi * A**3 / L**3, rel=1e-6
    )


def test_free_standing_particle() -> None:
    bundle = build(MPI.COMM_WORLD, rve(matrix=False))
    assert set(bundle.cell_names) == {"particles"}
    assert set(bundle.facet_names) == {"particle_surface"}
    ds = ufl.Measure("ds", domain=bundle.mesh, subdomain_data=bundle.facet_tags)
    assert integrate(bundle, 1.0 * ds(bundle.facet_names["particle_surface"])) == pytest.approx(
        4 * np.pi * A**2, rel=0.02
    )


def test_random_rve_reports_requested_and_achieved(tmp_path) -> None:
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
    bundle = build(MPI.COMM_WORLD, spec, msh_path=tmp_path / "mesh.msh")
    stats = bundle.stats
    assert stats.volume_fractions_requested == {"particles": 0.15}
    largest = 4 / 3 * np.pi * max(p.radius for p in stats.particles) ** 3 / L**3
    assert abs(stats.volume_fractions_achieved["particles"] - 0.15) <= largest
    assert (tmp_path / "mesh.msh").stat().st_size > 0
