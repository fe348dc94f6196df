"""A second particle species (graphite) packed with the Si: regions, fractions, gaps, a run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from meshes.particle_rve import ParticleRVESpec, build, place_particles
from tests.conftest import TINY_CASE, ssbmech

SPEC = {
    "box": [2e-6, 2e-6, 2e-6],
    "particles": {
        "mode": "random",
        "volume_fraction": 0.10,
        "radius_mean": 0.15e-6,
        "min_gap": 0.03e-6,
        "seed": 2,
    },
    "second_species": {
        "region": "graphite",
        "volume_fraction": 0.15,
        "radius_mean": 0.4e-6,
        "min_gap": 0.05e-6,
        "seed": 9,
    },
    "mesh": {"size": 0.3e-6, "interface_size": 0.1e-6},
}


@pytest.mark.parametrize("packer", ["rsa", "rearrange"])
def test_species_keep_their_gaps_and_fractions(packer: str) -> None:
    data = {**SPEC, "particles": {**SPEC["particles"], "packer": packer}}
    spec = ParticleRVESpec.model_validate(data)
    particles = place_particles(spec)
    species = np.array([p.species for p in particles])
    c = np.array([p.center for p in particles])
    r = np.array([p.radius for p in particles])
    volume = 4 / 3 * np.pi * r**3 / 8e-18
    assert volume[species == 0].sum() == pytest.approx(0.10, abs=0.5 * volume[species == 0].max())
    assert volume[species == 1].sum() == pytest.approx(0.15, abs=0.5 * volume[species == 1].max())
    gap = np.linalg.norm(c[:, None] - c[None], axis=2) - r[:, None] - r[None]
    np.fill_diagonal(gap, np.inf)
    # Si–graphite pairs keep the Si min_gap, graphite–graphite pairs their own
    assert gap[np.ix_(species == 0, species == 1)].min() >= 0.03e-6 * (1 - 1e-9)
    assert gap[np.ix_(species == 1, species == 1)].min() >= 0.05e-6 * (1 - 1e-9)


def test_mesh_regions_and_interfaces() -> None:
    bundle = build(MPI.COMM_WORLD, ParticleRVESpec.model_validate(SPEC))
    assert set(bundle.cell_names) == {"particles", "graphite", "matrix"}
    assert {"interface", "graphite_matrix"} <= set(bundle.facet_names)
    achieved = bundle.stats.volume_fractions_achieved
    requested = bundle.stats.volume_fractions_requested
    assert requested == {"particles": 0.10, "graphite": 0.15}
    assert achieved["graphite"] == pytest.approx(0.15, abs=0.03)


def test_run_with_graphite(tmp_path: Path) -> None:
    out = tmp_path / "g"
    entry = (
        "geometry.second_species={region: graphite, volume_fraction: 0.08, "
        "radius_mean: 0.12 um, min_gap: 0.03 um, seed: 1}"
    )
    ssbmech(
        "run",
        str(TINY_CASE),
        "--out",
        str(out),
        "--set",
        entry,
        "--set",
        "materials.graphite=graphite",
        "--set",
        "lithiation.steps=1",
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete"
    assert summary["materials"]["graphite"] == "graphite"
    assert "max_principal_Pa_graphite" in summary["final"]
