"""Sphere packing for particle RVEs: validation of explicit lists and random sequential addition.

Random sequential addition (RSA) in the box [0, L] (m), reproducible from ``seed``
(``numpy.random.default_rng``):

1. Radii are log-normal with arithmetic mean ``a`` and standard deviation ``s`` (m):
   ln r ~ N(ln a − σ²/2, σ²), σ² = ln(1 + s²/a²); ``s = 0`` is monodisperse. Radii are drawn
   until their spheres hold the remaining target volume, then placed largest first (denser
   than drawing order, and the placed radii remain a sample of the distribution).
2. Each radius gets up to ``ATTEMPTS_PER_PARTICLE`` uniformly random centres; a centre is
   accepted when |c_i − c_j| ≥ r_i + r_j + gap to every placed sphere and
   - ``inside``: r + gap ≤ c ≤ L − r − gap on every axis;
   - ``clipped``: 0 ≤ c ≤ L (spheres may cross faces), but every face keeps ``gap`` from
     tangency, | |c − face| − r | ≥ gap, so no sliver caps or near-touching surfaces;
   - ``periodic``: as ``clipped``, with distances between centres measured to the nearest
     periodic image (minimum image: each component of c_i − c_j wrapped into [−L/2, L/2]),
     so the gap also holds across faces. A sphere crossing a face re-enters at the opposite
     one (``particle_rve`` adds the images), so its volume in the cell is the full sphere's.
     The face band keeps the images' cut faces from being slivers.
3. Placement stops when the sphere volume inside the box reaches φ L³; the last sphere is kept
   only if that brings the fraction closer to φ, so |φ_achieved − φ| ≤ ½ V_last / L³.

A radius that finds no room is skipped, as is every later radius at least as large. After
``STALL_LIMIT`` consecutive skips the packing has jammed (RSA of equal spheres jams near
φ ≈ 0.38, lower with gaps and in small boxes); unless φ is already within half a mean particle
volume, that is a GeometryError saying which fraction was reached.

Dimension: a 2-element box is a rectangle and the particles are disks (``particle_rve_2d``);
"volume" then means area (m2) and the fraction is an area fraction. The area of a disk inside
the rectangle is exact (signed quadrant areas, inclusion–exclusion over the four corners).
Particles are returned with 3-component centres (z = 0 in 2D).

The volume of a sphere inside the box is V = ∫ A(z) dz, A(z) the exact area of the slice disc
inside the xy-rectangle (signed quadrant areas, inclusion–exclusion over the four corners),
integrated by Gauss–Legendre quadrature on panels split at the kinks of A(z) (nodes clustered
at the kinks); relative error < 1e-7 (see tests/test_packing.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from meshes.bundle import Particle
from meshes.errors import GeometryError

if TYPE_CHECKING:
    from meshes.particle_rve import ExplicitParticles, RandomParticles

ATTEMPTS_PER_PARTICLE = 5000  # random centres tried for one radius before it is skipped
CANDIDATE_BATCH = 250  # centres tested together (vectorised) per attempt batch
STALL_LIMIT = 20  # consecutive skipped radii that mean the packing has jammed
GAUSS_POINTS = 16  # Gauss–Legendre points per z-panel of the clipped-volume integral
_GAUSS_X, _GAUSS_W = np.polynomial.legendre.leggauss(GAUSS_POINTS)


def sphere_volume(radius: float | np.ndarray, dim: int = 3) -> np.ndarray:
    """Volume (m3) of spheres (dim 3) or area (m2) of disks (dim 2) of the given radius (m)."""
    r = np.asarray(radius, dtype=float)
    return np.pi * r**2 if dim == 2 else 4.0 / 3.0 * np.pi * r**3


def lognormal_radii(rng: np.random.Generator, mean: float, std: float, n: int) -> np.ndarray:
    """``n`` radii (m) with the given arithmetic mean and standard deviation (m)."""
    if std == 0:
        return np.full(n, mean)
    s2 = np.log1p((std / mean) ** 2)
    return rng.lognormal(np.log(mean) - s2 / 2, np.sqrt(s2), n)


def mean_sphere_volume(mean: float, std: float, dim: int = 3) -> float:
    """Expected sphere volume (m3) for log-normal radii: (4/3)π a³ (1 + s²/a²)³.

    Disks (dim 2): expected area π a² (1 + s²/a²) (m2).
    """
    return float(sphere_volume(mean, dim)) * (1 + (std / mean) ** 2) ** dim


def min_image(diff: np.ndarray, box: np.ndarray, periodic: bool) -> np.ndarray:
    """Centre differences (m) wrapped to the nearest periodic image when ``periodic``."""
    return diff - box * np.round(diff / box) if periodic else diff


def volume_in_cell(center: np.ndarray, radius: float, box: np.ndarray, placement: str) -> float:
    """Volume (m3) a sphere adds to the cell: the full sphere when periodic, else in the box.

    2D (2-element box): the area (m2) of the disk.
    """
    if placement == "periodic":
        return float(sphere_volume(radius, len(box)))
    if len(box) == 2:
        return area_in_rectangle(center, radius, box)
    return volume_in_box(center, radius, box)


def _quadrant_area(rho: np.ndarray, x: float, y: float) -> np.ndarray:
    """Signed area (m2) of the disc |p| ≤ rho within the rectangle spanned by 0 and (x, y)."""
    safe = np.where(rho > 0, rho, 1.0)
    u = np.minimum(abs(x), rho)
    t = np.minimum(abs(y), rho)
    s = np.sqrt(rho**2 - t**2)  # the disc's edge is at height t above the x-axis at |x| = s

    def half_segment(v: np.ndarray) -> np.ndarray:  # ∫_0^v sqrt(rho² − ξ²) dξ
        return 0.5 * (
            v * np.sqrt(np.maximum(rho**2 - v**2, 0.0))
            + rho**2 * np.arcsin(np.clip(v / safe, -1.0, 1.0))
        )

    area = np.where(u <= s, t * u, t * s + half_segment(u) - half_segment(np.minimum(s, u)))
    return np.sign(x) * np.sign(y) * area


def _disk_in_rectangle(rho: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Area (m2) of discs of radius rho centred at 0 inside [lo, hi] (corners relative to 0)."""
    return (
        _quadrant_area(rho, hi[0], hi[1])
        - _quadrant_area(rho, lo[0], hi[1])
        - _quadrant_area(rho, hi[0], lo[1])
        + _quadrant_area(rho, lo[0], lo[1])
    )


def area_in_rectangle(center: np.ndarray, radius: float, box: np.ndarray) -> float:
    """Exact area (m2) of the disk (centre, radius in m) inside the rectangle [0, box] (m)."""
    lo = -np.asarray(center, dtype=float)[:2]
    hi = np.asarray(box, dtype=float) + lo
    return float(_disk_in_rectangle(np.array(float(radius)), lo, hi))


def volume_in_box(center: np.ndarray, radius: float, box: np.ndarray) -> float:
    """Volume (m3) of the sphere (centre, radius in m) inside the box [0, box] (m)."""
    lo = -np.asarray(center, dtype=float)  # box corners relative to the centre
    hi = np.asarray(box, dtype=float) + lo
    if np.all(lo <= -radius) and np.all(hi >= radius):
        return float(sphere_volume(radius))
    z0, z1 = max(lo[2], -radius), min(hi[2], radius)
    if z1 <= z0:
        return 0.0
    # A(z) has kinks where the slice radius reaches a side or a corner of the rectangle
    sides = np.array([lo[0], hi[0], lo[1], hi[1]]) ** 2
    corners = (np.array([lo[0], hi[0]])[:, None] ** 2 + np.array([lo[1], hi[1]]) ** 2).ravel()
    t2 = np.concatenate([sides, corners])
    zk = np.sqrt(radius**2 - t2[t2 < radius**2])
    breaks = np.unique(np.clip(np.concatenate([[z0, z1], zk, -zk]), z0, z1))
    a, b = breaks[:-1, None], breaks[1:, None]
    # z = a + (b − a)(3σ² − 2σ³) clusters nodes at the kinks, where A(z) ~ |z − z_k|^(3/2)
    sigma = 0.5 * (1 + _GAUSS_X)
    z = a + (b - a) * sigma**2 * (3 - 2 * sigma)
    weights = (b - a) * 6 * sigma * (1 - sigma) * 0.5 * _GAUSS_W
    rho = np.sqrt(np.maximum(radius**2 - z**2, 0.0))
    return float(np.sum(weights * _disk_in_rectangle(rho, lo, hi)))


def _fmt(v: np.ndarray) -> str:
    return "(" + ", ".join(f"{x:.4g}" for x in v) + ")"


def check_explicit(spec: ExplicitParticles, box: np.ndarray) -> list[Particle]:
    """Validate an explicit particle list: no overlaps, fits the box, inside unless clipped.

    Periodic placement: centres in the box, overlaps checked against the nearest images.
    """
    box = np.asarray(box, dtype=float)
    centers = np.array([p.center for p in spec.items], dtype=float)
    radii = np.array([p.radius for p in spec.items], dtype=float)
    for i, (c, r) in enumerate(zip(centers, radii, strict=True)):
        if 2 * r >= box.min():
            raise GeometryError(
                f"particles.items.{i}.radius",
                f"particle {i} has diameter {2 * r:g} m; it must be smaller than the smallest "
                f"box side {box.min():g} m",
            )
        if spec.placement == "inside" and (np.any(c - r < 0) or np.any(c + r > box)):
            raise GeometryError(
                f"particles.items.{i}.center",
                f"particle {i} (centre {_fmt(c)} m, radius {r:g} m) is not fully inside the "
                f"box 0…{_fmt(box)} m; move it or use placement: clipped",
            )
        if spec.placement != "inside" and (np.any(c < 0) or np.any(c > box)):
            raise GeometryError(
                f"particles.items.{i}.center",
                f"particle {i} has its centre {c.tolist()} m outside the box "
                f"[0, {box.tolist()}] m; with placement: {spec.placement} the centre must lie "
                "in the box",
            )
    periodic = spec.placement == "periodic"
    dist = np.linalg.norm(min_image(centers[:, None] - centers[None], box, periodic), axis=2)
    clash = np.argwhere(np.triu(dist < radii[:, None] + radii[None], k=1))
    if clash.size:
        i, j = (int(k) for k in clash[0])
        raise GeometryError(
            f"particles.items.{j}",
            f"particles {i} and {j} overlap (centre distance {dist[i, j]:g} m < sum of radii "
            f"{radii[i] + radii[j]:g} m); particles must not overlap"
            + (" (nor the periodic images of each other)" if periodic else ""),
        )
    return to_particles(centers, radii)


def to_particles(centers: np.ndarray, radii: np.ndarray, species: int = 0) -> list[Particle]:
    """Particles from (N, 2 or 3) centres (m) and radii (m); 2D centres get z = 0."""
    padded = np.zeros((len(radii), 3))
    padded[:, : centers.shape[1]] = centers
    return [
        Particle((float(c[0]), float(c[1]), float(c[2])), float(r), species)
        for c, r in zip(padded, radii, strict=True)
    ]


def draw_radii(
    rng: np.random.Generator, spec: RandomParticles, volume: float, dim: int = 3
) -> np.ndarray:
    """Radii (m), largest first, whose spheres just hold ``volume`` (m3; disks in 2D: m2)."""
    mean_volume = mean_sphere_volume(spec.radius_mean, spec.radius_std, dim)
    radii = np.empty(0)
    while sphere_volume(radii, dim).sum() < volume:
        missing = volume - sphere_volume(radii, dim).sum()
        n = int(np.ceil(missing / mean_volume)) + 1
        radii = np.append(radii, lognormal_radii(rng, spec.radius_mean, spec.radius_std, n))
    cut = int(np.searchsorted(np.cumsum(sphere_volume(radii, dim)), volume)) + 1
    return np.sort(radii[:cut])[::-1]


def _find_room(
    rng: np.random.Generator,
    radius: float,
    centers: np.ndarray,
    radii: np.ndarray,
    box: np.ndarray,
    spec: RandomParticles,
) -> np.ndarray | None:
    """A random admissible centre (m) for a sphere of ``radius`` (m), or None if none found."""
    gap = spec.min_gap
    inside = spec.placement == "inside"
    dim = len(box)
    lo = np.full(dim, radius + gap) if inside else np.zeros(dim)
    hi = box - lo
    for _ in range(ATTEMPTS_PER_PARTICLE // CANDIDATE_BATCH):
        cand = rng.uniform(lo, hi, size=(CANDIDATE_BATCH, dim))
        ok = np.ones(CANDIDATE_BATCH, dtype=bool)
        if not inside and gap > 0:
            ok &= np.all(np.abs(cand - radius) >= gap, axis=1)
            ok &= np.all(np.abs(box - cand - radius) >= gap, axis=1)
        if radii.size:
            diff = min_image(cand[:, None, :] - centers[None], box, spec.placement == "periodic")
            d2 = np.sum(diff**2, axis=2)
            ok &= np.all(d2 >= (radii + radius + gap) ** 2, axis=1)
        hit = np.flatnonzero(ok)
        if hit.size:
            return cand[hit[0]]
    return None


_MARGIN_TEXT = {"inside": " plus 2 min_gap", "periodic": " plus min_gap"}


def check_fits(spec: RandomParticles, box: np.ndarray, key: str = "particles") -> None:
    """GeometryError unless a particle of the mean radius (+ gaps when inside) fits the box.

    Periodic: a sphere must keep the gap from its own image, 2 r + gap < L.
    """
    margin = {"inside": spec.min_gap, "periodic": 0.5 * spec.min_gap}.get(spec.placement, 0.0)
    if 2 * (spec.radius_mean + margin) >= box.min():
        raise GeometryError(
            f"{key}.radius_mean",
            f"particles of mean radius {spec.radius_mean:g} m do not fit the box: the diameter"
            f"{_MARGIN_TEXT.get(spec.placement, '') if margin else ''} must be smaller than the "
            f"smallest box side {box.min():g} m",
        )


def pack_random(
    spec: RandomParticles,
    box: np.ndarray,
    obstacles: Sequence[Particle] = (),
    key: str = "particles",
    species: int = 0,
) -> list[Particle]:
    """Place spheres by RSA until their volume in the box reaches the target fraction.

    ``obstacles``: spheres already placed (another species) that the new ones must keep
    ``min_gap`` from; they are not returned and not counted. ``key`` names the case section in
    errors; ``species`` labels the returned particles.
    """
    box = np.asarray(box, dtype=float)
    dim = len(box)
    check_fits(spec, box, key)
    rng = np.random.default_rng(spec.seed)
    box_volume = float(np.prod(box))
    target = spec.volume_fraction * box_volume
    margin = {"inside": spec.min_gap, "periodic": 0.5 * spec.min_gap}.get(spec.placement, 0.0)
    centers = np.array([p.center[:dim] for p in obstacles], dtype=float).reshape(-1, dim)
    radii = np.array([p.radius for p in obstacles], dtype=float)
    fixed = radii.size
    volume = 0.0
    smallest_failed = np.inf
    skipped = 0
    done = False
    while not done:
        for r in draw_radii(rng, spec, target - volume, dim):
            center = None
            if r < smallest_failed and 2 * (r + margin) < box.min():
                center = _find_room(rng, float(r), centers, radii, box, spec)
                if center is None:
                    smallest_failed = r
            if center is None:
                skipped += 1
                if skipped >= STALL_LIMIT:
                    done = True
                    break
                continue
            skipped = 0
            if radii.size - fixed >= spec.max_particles:
                raise GeometryError(
                    f"{key}.max_particles",
                    f"reached max_particles = {spec.max_particles} at volume fraction "
                    f"{volume / box_volume:.4f} (target {spec.volume_fraction}); raise "
                    "max_particles or use larger particles",
                )
            v = volume_in_cell(center, float(r), box, spec.placement)
            if volume + v >= target:
                done = True
                if volume + v - target > target - volume:
                    break  # this particle would overshoot more than leaving it out
            centers = np.vstack([centers, center])
            radii = np.append(radii, r)
            volume += v
            if done:
                break
    if radii.size == fixed and skipped < STALL_LIMIT:
        raise GeometryError(
            f"{key}.radius_mean",
            f"one particle of mean radius {spec.radius_mean:g} m holds more than twice the "
            f"requested volume fraction {spec.volume_fraction} of the box; use smaller "
            "particles or a larger box",
        )
    if target - volume > 0.5 * mean_sphere_volume(spec.radius_mean, spec.radius_std, dim):
        raise GeometryError(
            f"{key}.volume_fraction",
            f"random sequential addition jammed: reached volume fraction {volume / box_volume:.4f} "
            f"with {radii.size - fixed} particles, short of the requested "
            f"{spec.volume_fraction}; use a lower fraction, a smaller min_gap, smaller particles "
            "or a larger box",
        )
    return to_particles(centers[fixed:], radii[fixed:], species)
