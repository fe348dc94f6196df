"""Sphere packing for particle RVEs: validation of explicit lists and random sequential addition.

Random packing is reproducible from a seed: radii are drawn log-normal with the requested mean
and standard deviation (m), sorted largest first (which packs denser than drawing order), and
each is placed at uniformly random centres until it keeps ``min_gap`` to all placed particles
(and, for ``inside`` placement, to the box faces). Random sequential addition alone jams near a
volume fraction of ~0.38 (monodisperse); a request it cannot reach is an error that says what
was reached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from meshes.bundle import Particle
from meshes.errors import GeometryError

if TYPE_CHECKING:
    from meshes.particle_rve import ExplicitParticles, RandomParticles

ATTEMPTS_PER_PARTICLE = 5000
_GRID = np.linspace(-1.0, 1.0, 24)  # quadrature grid for a clipped sphere's volume in the box


def lognormal_radii(rng: np.random.Generator, mean: float, std: float, n: int) -> np.ndarray:
    """``n`` radii (m) with the given arithmetic mean and standard deviation (m)."""
    if std == 0:
        return np.full(n, mean)
    s2 = np.log1p((std / mean) ** 2)
    return rng.lognormal(np.log(mean) - s2 / 2, np.sqrt(s2), n)


def volume_in_box(center: np.ndarray, radius: float, box: np.ndarray) -> float:
    """Volume (m3) of a sphere inside the box [0, box].

    Exact when the sphere is inside, else a 24³-point midpoint rule (≈1 % accurate).
    """
    if np.all(center - radius >= 0) and np.all(center + radius <= box):
        return 4.0 / 3.0 * np.pi * radius**3
    g = np.stack(np.meshgrid(_GRID, _GRID, _GRID, indexing="ij"), -1).reshape(-1, 3)
    g = g[np.einsum("ij,ij->i", g, g) <= 1.0]
    pts = center + radius * g
    inside = np.all((pts >= 0) & (pts <= box), axis=1).mean()
    return float(inside * 4.0 / 3.0 * np.pi * radius**3)


def check_explicit(spec: ExplicitParticles, box: np.ndarray) -> list[Particle]:
    """Validate an explicit particle list: no overlaps, inside the box unless ``clipped``."""
    particles = [Particle(tuple(p.center), p.radius) for p in spec.items]  # type: ignore[arg-type]
    centers = np.array([p.center for p in particles])
    radii = np.array([p.radius for p in particles])
    for i, (c, r) in enumerate(zip(centers, radii, strict=True)):
        if spec.placement == "inside" and (np.any(c - r < 0) or np.any(c + r > box)):
            raise GeometryError(
                f"particles.items.{i}",
                f"particle {i} (centre {c.tolist()} m, radius {r:g} m) is not fully inside the "
                f"box {box.tolist()} m; move it or use placement: clipped",
            )
        if spec.placement == "clipped" and (np.any(c < 0) or np.any(c > box)):
            raise GeometryError(
                f"particles.items.{i}", f"particle {i} has its centre outside the box"
            )
        d = np.linalg.norm(centers[i + 1 :] - c, axis=1)
        clash = np.nonzero(d < radii[i + 1 :] + r)[0]
        if clash.size:
            j = i + 1 + int(clash[0])
            raise GeometryError(
                f"particles.items.{j}",
                f"particles {i} and {j} overlap (centre distance "
                f"{d[clash[0]]:g} m < sum of radii {r + radii[j]:g} m)",
            )
    return particles


def pack_random(spec: RandomParticles, box: np.ndarray) -> list[Particle]:
    """Place particles until their volume in the box reaches the target fraction."""
    rng = np.random.default_rng(spec.seed)
    box_volume = float(np.prod(box))
    target = spec.volume_fraction * box_volume
    mean_volume = (
        4.0 / 3.0 * np.pi * (spec.radius_mean**3 + 3 * spec.radius_mean * spec.radius_std**2)
    )
    n_draw = min(int(np.ceil(2 * target / mean_volume)) + 10, 20 * spec.max_particles)
    radii = np.sort(lognormal_radii(rng, spec.radius_mean, spec.radius_std, n_draw))[::-1]
    margin = spec.min_gap if spec.placement == "inside" else 0.0
    centers: list[np.ndarray] = []
    placed: list[float] = []
    volume = 0.0
    for r in radii:
        if volume >= target:
            break
        if len(placed) >= spec.max_particles:
            raise GeometryError(
                "particles.max_particles",
                f"reached max_particles = {spec.max_particles} at volume fraction "
                f"{volume / box_volume:.3f} (target {spec.volume_fraction}); raise it or use "
                "larger particles",
            )
        lo = np.full(3, r + margin) if spec.placement == "inside" else np.zeros(3)
        hi = box - lo if spec.placement == "inside" else box
        if np.any(hi <= lo):
            continue  # too large for this box: try the next (smaller) radius
        cand = rng.uniform(lo, hi, size=(ATTEMPTS_PER_PARTICLE, 3))
        if centers:
            c_arr, r_arr = np.array(centers), np.array(placed)
            dist = np.linalg.norm(cand[:, None, :] - c_arr[None], axis=2)
            ok = np.all(dist >= r_arr[None] + r + spec.min_gap, axis=1)
            good = np.nonzero(ok)[0]
            if good.size == 0:
                continue
            c = cand[good[0]]
        else:
            c = cand[0]
        centers.append(c)
        placed.append(float(r))
        volume += volume_in_box(c, float(r), box)
    if volume < target - 0.5 * mean_volume:
        raise GeometryError(
            "particles.volume_fraction",
            f"random sequential addition reached volume fraction {volume / box_volume:.3f} with "
            f"{len(placed)} particles, not the requested {spec.volume_fraction}; use a lower "
            "fraction, smaller min_gap, smaller particles or a larger box",
        )
    return [
        Particle((float(c[0]), float(c[1]), float(c[2])), r)
        for c, r in zip(centers, placed, strict=True)
    ]
