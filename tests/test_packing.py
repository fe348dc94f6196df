"""Seeded particle packing, clipped sphere volumes and validation of explicit particle lists."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest

from meshes.bundle import Particle
from meshes.errors import GeometryError
from meshes.packing import (
    check_explicit,
    lognormal_radii,
    pack_random,
    sphere_volume,
    volume_in_box,
)
from meshes.particle_rve import ExplicitParticles, RandomParticles
from meshes.rearrange import pack_dense

BOX = np.array([2e-6, 2e-6, 2e-6])
GAP = 0.02e-6


def spec(**kw: object) -> RandomParticles:
    base = {
        "volume_fraction": 0.2,
        "radius_mean": 0.2e-6,
        "radius_std": 0.04e-6,
        "min_gap": GAP,
        "seed": 3,
    }
    return RandomParticles.model_validate({**base, **kw})


def explicit(*items: tuple[list[float], float], placement: str = "inside") -> ExplicitParticles:
    return ExplicitParticles.model_validate(
        {"items": [{"center": c, "radius": r} for c, r in items], "placement": placement}
    )


def arrays(particles: list[Particle]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([p.center for p in particles]), np.array([p.radius for p in particles])


def fraction(particles: list[Particle], box: np.ndarray = BOX) -> float:
    vol = sum(volume_in_box(np.array(p.center), p.radius, box) for p in particles)
    return vol / float(np.prod(box))


def smallest_gap(particles: list[Particle]) -> float:
    c, r = arrays(particles)
    d = np.linalg.norm(c[:, None] - c[None], axis=2) - r[:, None] - r[None]
    np.fill_diagonal(d, np.inf)
    return float(d.min())


def test_reproducible_from_seed() -> None:
    assert pack_random(spec(), BOX) == pack_random(spec(), BOX)
    assert pack_random(spec(), BOX) != pack_random(spec(seed=4), BOX)


def test_fraction_gap_and_inside_placement() -> None:
    particles = pack_random(spec(), BOX)
    c, r = arrays(particles)
    # the last (smallest) particle is kept only if it brings the fraction closer to the target
    assert abs(fraction(particles) - 0.2) <= 0.5 * sphere_volume(r.min()) / np.prod(BOX)
    assert np.all(r[:-1] >= r[1:])  # largest first
    assert np.all(c - r[:, None] >= GAP * (1 - 1e-9))
    assert np.all(c + r[:, None] <= BOX - GAP * (1 - 1e-9))
    assert smallest_gap(particles) >= GAP * (1 - 1e-9)


def test_clipped_placement_crosses_faces_but_not_tangentially() -> None:
    particles = pack_random(spec(placement="clipped", volume_fraction=0.25), BOX)
    c, r = arrays(particles)
    assert np.all((c >= 0) & (c <= BOX))
    assert np.any(c - r[:, None] < 0) and np.any(c + r[:, None] > BOX)  # some are clipped
    for face_distance in (c, BOX - c):  # no near-tangency with a face: | |c − face| − r | ≥ gap
        assert np.all(np.abs(face_distance - r[:, None]) >= GAP * (1 - 1e-9))
    assert smallest_gap(particles) >= GAP * (1 - 1e-9)
    assert abs(fraction(particles) - 0.25) <= 0.5 * sphere_volume(r.max()) / np.prod(BOX)


def test_monodisperse_and_lognormal_radii() -> None:
    _, r = arrays(pack_random(spec(radius_std=0.0), BOX))
    assert np.all(r == 0.2e-6)
    many = lognormal_radii(np.random.default_rng(0), 1.0, 0.25, 200_000)
    assert many.mean() == pytest.approx(1.0, rel=0.01)
    assert many.std() == pytest.approx(0.25, rel=0.02)
    big = np.array([4e-6] * 3)
    _, placed = arrays(pack_random(spec(volume_fraction=0.2, radius_std=0.06e-6), big))
    assert placed.size > 100
    assert placed.mean() == pytest.approx(0.2e-6, rel=0.1)  # a sample, not the largest draws
    assert placed.std() == pytest.approx(0.06e-6, rel=0.3)


@pytest.mark.parametrize(
    ("center", "share"),
    [([0.0, 1e-6, 1e-6], 1 / 2), ([0.0, 2e-6, 1e-6], 1 / 4), ([2e-6, 0.0, 2e-6], 1 / 8)],
)
def test_clipped_sphere_volume_halves_quarters_eighths(center: list[float], share: float) -> None:
    a = 0.5e-6
    assert volume_in_box(np.array(center), a, BOX) == pytest.approx(
        share * sphere_volume(a), rel=1e-10
    )


def test_clipped_sphere_volume_cap_and_corner() -> None:
    a, h = 0.5e-6, 0.3e-6  # centre h inside the face x = 0: a cap of height a − h is cut off
    cap = np.pi * (a - h) ** 2 * (3 * a - (a - h)) / 3
    assert volume_in_box(np.array([h, 1e-6, 1e-6]), a, BOX) == pytest.approx(
        sphere_volume(a) - cap, rel=1e-9
    )
    # near a corner (three faces cross): compare with a fine nested quadrature, exact in y
    center, n = np.array([0.2e-6, 0.3e-6, 0.1e-6]), 3000
    z = -center[2] + (np.arange(n) + 0.5) * (a + center[2]) / n
    x = -center[0] + (np.arange(n) + 0.5) * (a + center[0]) / n
    half_chord = np.sqrt(np.maximum(a**2 - z[:, None] ** 2 - x[None] ** 2, 0))
    length = np.clip(half_chord - np.maximum(-center[1], -half_chord), 0, None)
    reference = length.sum() * (a + center[2]) / n * (a + center[0]) / n
    assert volume_in_box(center, a, BOX) == pytest.approx(reference, rel=1e-6)


def test_unreachable_fraction_says_what_was_reached() -> None:
    with pytest.raises(GeometryError) as info:
        pack_random(spec(volume_fraction=0.6, radius_std=0.0, min_gap=0.05e-6), BOX)
    assert info.value.key == "particles.volume_fraction"
    reached = re.search(r"reached volume fraction (0\.\d+)", str(info.value))
    assert reached is not None and 0.1 < float(reached.group(1)) < 0.6
    assert "smaller particles" in str(info.value)


def test_random_requests_that_cannot_fit() -> None:
    with pytest.raises(GeometryError, match="smaller than the smallest box side") as info:
        pack_random(spec(radius_mean=1.0e-6), BOX)
    assert info.value.key == "particles.radius_mean"
    with pytest.raises(GeometryError, match="reached max_particles = 10") as info:
        pack_random(spec(max_particles=10), BOX)
    assert info.value.key == "particles.max_particles"


def test_explicit_overlap_and_out_of_box() -> None:
    particles = check_explicit(explicit(([0.5e-6] * 3, 0.3e-6), ([1.4e-6] * 3, 0.3e-6)), BOX)
    assert particles[1] == Particle((1.4e-6, 1.4e-6, 1.4e-6), 0.3e-6)
    overlap = explicit(
        ([0.5e-6] * 3, 0.3e-6), ([1.5e-6] * 3, 0.3e-6), ([0.9e-6, 0.5e-6, 0.5e-6], 0.3e-6)
    )
    with pytest.raises(GeometryError, match="particles 0 and 2 overlap") as info:
        check_explicit(overlap, BOX)
    assert info.value.key == "particles.items.2"
    outside = explicit(([1e-6] * 3, 0.2e-6), ([0.1e-6, 1e-6, 1e-6], 0.3e-6))
    with pytest.raises(GeometryError, match=r"particle 1 .* not fully inside the box"):
        check_explicit(outside, BOX)
    check_explicit(explicit(([0.1e-6, 1e-6, 1e-6], 0.3e-6), placement="clipped"), BOX)
    with pytest.raises(GeometryError, match="particle 0 has its centre"):
        check_explicit(explicit(([-0.1e-6, 1e-6, 1e-6], 0.3e-6), placement="clipped"), BOX)
    with pytest.raises(GeometryError, match="smaller than the smallest box side") as info:
        check_explicit(explicit(([1e-6] * 3, 1e-6), placement="clipped"), BOX)
    assert info.value.key == "particles.items.0.radius"


def test_geometry_error_survives_pickling() -> None:  # it is broadcast from rank 0
    err = pickle.loads(pickle.dumps(GeometryError("particles.seed", "no luck")))
    assert (err.key, str(err)) == ("particles.seed", "no luck")


# ------------------------------------------------------------- collective rearrangement


def dense(**kw: object) -> RandomParticles:
    return spec(**{"packer": "rearrange", "radius_std": 0.0, **kw})


@pytest.mark.parametrize(
    ("placement", "radius"),
    [("clipped", 0.25e-6), ("inside", 0.125e-6)],  # inside: walls cost density, so L/r = 16
)
def test_rearrangement_reaches_half_monodisperse(placement: str, radius: float) -> None:
    """φ = 0.5 of equal spheres (RSA jams near 0.38): within half a particle, gaps kept."""
    gap = 0.04 * radius
    s = dense(volume_fraction=0.5, radius_mean=radius, min_gap=gap, placement=placement)
    s = s.model_copy(update={"max_particles": 600})
    particles = pack_dense(s, BOX)
    half_particle = 0.5 * float(sphere_volume(radius)) / float(np.prod(BOX))
    assert abs(fraction(particles) - 0.5) <= half_particle
    assert smallest_gap(particles) >= gap
    c, r = arrays(particles)
    if placement == "inside":
        assert np.all(c - r[:, None] >= gap * (1 - 1e-9))
        assert np.all(c + r[:, None] <= BOX - gap * (1 - 1e-9))
    else:  # no sliver caps: every face keeps min_gap from tangency
        for dist in (c, BOX - c):
            assert np.all(np.abs(dist - r[:, None]) >= gap * (1 - 1e-9))
    assert pack_dense(s, BOX) == particles  # reproducible from the seed


def test_rearrangement_polydisperse_and_jamming() -> None:
    particles = pack_dense(
        dense(volume_fraction=0.45, radius_std=0.05e-6, min_gap=0.01e-6, placement="clipped"),
        BOX,
    )
    assert abs(fraction(particles) - 0.45) < 0.02
    assert np.std(arrays(particles)[1]) > 0.02e-6
    with pytest.raises(GeometryError, match="collective rearrangement jammed") as info:
        pack_dense(dense(volume_fraction=0.7, radius_mean=0.3e-6, min_gap=0.02e-6), BOX)
    assert info.value.key == "particles.volume_fraction"
