"""Seeded particle packing and validation of explicit particle lists."""

from __future__ import annotations

import numpy as np
import pytest

from meshes.errors import GeometryError
from meshes.packing import check_explicit, lognormal_radii, pack_random, volume_in_box
from meshes.particle_rve import ExplicitParticles, RandomParticles

BOX = np.array([2e-6, 2e-6, 2e-6])


def spec(**kw: object) -> RandomParticles:
    base = {
        "volume_fraction": 0.2,
        "radius_mean": 0.2e-6,
        "radius_std": 0.04e-6,
        "min_gap": 0.02e-6,
        "seed": 3,
    }
    return RandomParticles.model_validate({**base, **kw})


def fraction(particles: list, box: np.ndarray = BOX) -> float:
    vol = sum(volume_in_box(np.array(p.center), p.radius, box) for p in particles)
    return vol / float(np.prod(box))


def test_reproducible_from_seed() -> None:
    assert pack_random(spec(), BOX) == pack_random(spec(), BOX)
    assert pack_random(spec(), BOX) != pack_random(spec(seed=4), BOX)


def test_fraction_gap_and_inside_placement() -> None:
    particles = pack_random(spec(), BOX)
    largest = 4 / 3 * np.pi * max(p.radius for p in particles) ** 3 / np.prod(BOX)
    assert abs(fraction(particles) - 0.2) <= largest
    c = np.array([p.center for p in particles])
    r = np.array([p.radius for p in particles])
    assert np.all(c - r[:, None] >= 0.02e-6 - 1e-15) and np.all(c + r[:, None] <= BOX)
    d = np.linalg.norm(c[:, None] - c[None], axis=2) - r[:, None] - r[None]
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 0.02e-6 - 1e-15


def test_lognormal_mean_and_std() -> None:
    r = lognormal_radii(np.random.default_rng(0), 1.0, 0.25, 200_000)
    assert r.mean() == pytest.approx(1.0, rel=0.01)
    assert r.std() == pytest.approx(0.25, rel=0.02)


def test_clipped_volume_of_a_half_sphere() -> None:
    half = volume_in_box(np.array([0.0, 1e-6, 1e-6]), 0.5e-6, BOX)
    assert half == pytest.approx(0.5 * 4 / 3 * np.pi * 0.5e-6**3, rel=0.02)


def test_unreachable_fraction_says_what_was_reached() -> None:
    with pytest.raises(GeometryError) as info:
        pack_random(spec(volume_fraction=0.6, radius_std=0.0, min_gap=0.05e-6), BOX)
    assert info.value.key == "particles.volume_fraction"
    assert "reached volume fraction 0." in str(info.value)


def test_explicit_overlap_and_out_of_box() -> None:
    overlap = ExplicitParticles.model_validate(
        {
            "items": [
                {"center": [0.5e-6] * 3, "radius": 0.3e-6},
                {"center": [0.9e-6, 0.5e-6, 0.5e-6], "radius": 0.3e-6},
            ]
        }
    )
    with pytest.raises(GeometryError, match="particles 0 and 1 overlap"):
        check_explicit(overlap, BOX)
    outside = ExplicitParticles.model_validate(
        {"items": [{"center": [0.1e-6, 1e-6, 1e-6], "radius": 0.3e-6}]}
    )
    with pytest.raises(GeometryError, match="not fully inside the box"):
        check_explicit(outside, BOX)
