"""Dense random packing by collective rearrangement (seeded), for fractions RSA cannot reach.

Random sequential addition jams near φ ≈ 0.38 for equal spheres. Collective rearrangement
(He, Ekere & Cai, Comput. Mater. Sci. 1999; Jodrey & Tory 1985 in spirit) places all spheres
at once, overlapping, and moves them apart until no pair violates its contact distance:

1. Radii: drawn as for RSA (log-normal, seeded, largest first) until their volume holds the
   target φ L³; centres uniform in the admissible region (see ``packing`` for ``inside``,
   ``clipped`` and ``periodic``).
2. Relaxation sweep (Jacobi over a Verlet pair list): for every pair closer than
   d_ij = s (r_i + r_j) + gap (+ a margin of ``MARGIN`` r̄ so the result satisfies the gap
   strictly), both spheres move apart along the centre line by the overlap, shared in inverse
   proportion to their volumes (a lone pair is exactly separated in one sweep); then every
   centre is projected back to the admissible region (``clipped``: also out of the band
   | |c − face| − r | < gap that would leave sliver caps; ``periodic``: wrapped back into the
   box first, and pairs are measured between nearest periodic images). Sweeps repeat until no pair
   overlaps; seeded jitter every ``SHAKE_EVERY`` sweeps unlocks frozen clusters. The radius
   scale s grows through ``GROWTH`` (0.8 → 1), each stage relaxed in turn: growing into place
   jams far later than relaxing the full-size overlaps at once.
3. ``clipped``: the volume inside the box is below the full sphere volume, so spheres for the
   deficit are added and the set relaxed again, until |φ_achieved − φ| ≤ ½ mean sphere volume.

Dimension-generic: a 2-element box packs disks (areas, shares in inverse proportion to r²).

If ``MAX_SWEEPS`` sweeps leave overlaps, the packing is jammed: a GeometryError says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from meshes.bundle import Particle
from meshes.errors import GeometryError
from meshes.packing import (
    check_fits,
    draw_radii,
    mean_sphere_volume,
    min_image,
    to_particles,
    volume_in_cell,
)

if TYPE_CHECKING:
    from meshes.particle_rve import RandomParticles

MAX_SWEEPS = 20_000  # relaxation sweeps per growth stage before the packing is jammed
MARGIN = 1e-3  # extra separation aimed for, in mean radii (the gap holds strictly at the end)
SHAKE_EVERY = 500  # sweeps between seeded jitters of the overlapping spheres
SHAKE = 0.02  # jitter amplitude, in mean radii
FILL_ROUNDS = 20  # add-and-relax rounds for clipped placement
GROWTH = np.linspace(0.8, 1.0, 9)  # radius scales relaxed in turn (grow into place)


def _bounds(radii: np.ndarray, box: np.ndarray, spec: RandomParticles) -> np.ndarray:
    """Lower bounds (N, dim) of admissible centres (m); the upper bounds are box − lower."""
    if spec.placement == "inside":
        return np.repeat((radii + spec.min_gap)[:, None], len(box), axis=1)
    return np.zeros((radii.size, len(box)))


def _project(c: np.ndarray, radii: np.ndarray, box: np.ndarray, spec: RandomParticles) -> None:
    """Move centres (in place) into the admissible region."""
    if spec.placement == "periodic":
        np.mod(c, box, out=c)
    lo = _bounds(radii, box, spec)
    np.clip(c, lo, box - lo, out=c)
    gap = spec.min_gap
    if spec.placement != "inside" and gap > 0:
        r = radii[:, None]
        for dist, sign in ((c, 1.0), (box - c, -1.0)):  # distance to the low / high faces
            band = np.abs(dist - r) < gap
            target = np.where(dist >= r, r + gap, np.maximum(r - gap, 0.0))
            c += np.where(band, sign * (target - dist), 0.0)


def _pairs(
    c: np.ndarray, cutoff: np.ndarray, box: np.ndarray, periodic: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs i < j whose centres (or nearest images) are closer than ``cutoff[i, j]`` (m)."""
    diff = min_image(c[:, None] - c[None], box, periodic)
    dist2 = np.einsum("ijk,ijk->ij", diff, diff)
    i, j = np.nonzero(np.triu(dist2 < cutoff**2, k=1))
    return i, j


def _relax(
    rng: np.random.Generator,
    c: np.ndarray,
    radii: np.ndarray,
    box: np.ndarray,
    spec: RandomParticles,
    scale: float,
    fixed: int = 0,
) -> bool:
    """Separate spheres of radii ``scale`` × radii (centres moved in place); False if jammed.

    The first ``fixed`` spheres are obstacles (full size, never moved).
    """
    mobile = np.arange(radii.size) >= fixed
    r = np.where(mobile, scale * radii, radii)
    rbar = float(r[mobile].mean())
    need_all = r[:, None] + r[None] + spec.min_gap
    skin = 0.5 * rbar  # pair-list skin: rebuilt after any centre moved by half of it
    vol = r ** len(box)
    obstacles = c[:fixed].copy()
    moved = np.full(c.shape[0], np.inf)
    anchor = c.copy()
    i = j = np.empty(0, dtype=int)
    periodic = spec.placement == "periodic"
    for sweep in range(MAX_SWEEPS):
        if moved.max() > 0.5 * skin:
            i, j = _pairs(c, need_all + skin, box, periodic)
            anchor[:] = c
        diff = min_image(c[i] - c[j], box, periodic)
        dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        need = need_all[i, j]
        if np.all(dist >= need):
            return True
        overlap = np.clip(need + MARGIN * rbar - dist, 0.0, None)
        push = (overlap / np.where(dist > 0, dist, 1.0))[:, None] * diff
        both = mobile[i] & mobile[j]
        share_i = np.where(both, vol[j] / (vol[i] + vol[j]), mobile[i].astype(float))
        share_j = np.where(both, 1.0 - share_i, mobile[j].astype(float))
        step = np.zeros_like(c)
        np.add.at(step, i, share_i[:, None] * push)
        np.add.at(step, j, -share_j[:, None] * push)
        c += step
        if sweep % SHAKE_EVERY == SHAKE_EVERY - 1:
            stuck = np.unique(np.concatenate([i[overlap > 0], j[overlap > 0]]))
            stuck = stuck[mobile[stuck]]
            c[stuck] += rng.normal(0.0, SHAKE * rbar, size=(stuck.size, c.shape[1]))
        _project(c, r, box, spec)
        c[:fixed] = obstacles
        moved = np.linalg.norm(min_image(c - anchor, box, periodic), axis=1)
    return False


def pack_dense(
    spec: RandomParticles,
    box: np.ndarray,
    obstacles: Sequence[Particle] = (),
    key: str = "particles",
    species: int = 0,
) -> list[Particle]:
    """Seeded dense packing of ``spec`` in the box [0, box] (m) by collective rearrangement.

    ``obstacles``, ``key``, ``species``: as for ``packing.pack_random``.
    """
    box = np.asarray(box, dtype=float)
    check_fits(spec, box, key)
    dim = len(box)
    rng = np.random.default_rng(spec.seed)
    box_volume = float(np.prod(box))
    target = spec.volume_fraction * box_volume
    half_particle = 0.5 * mean_sphere_volume(spec.radius_mean, spec.radius_std, dim)
    centers = np.array([p.center[:dim] for p in obstacles], dtype=float).reshape(-1, dim)
    radii = np.array([p.radius for p in obstacles], dtype=float)
    fixed = radii.size
    volume = 0.0
    for _ in range(FILL_ROUNDS):
        new = draw_radii(rng, spec, target - volume, dim)
        lo = _bounds(new, box, spec)
        centers = np.vstack([centers, rng.uniform(lo, box - lo)])
        radii = np.concatenate([radii, new])
        if radii.size - fixed > spec.max_particles:
            raise GeometryError(
                f"{key}.max_particles",
                f"the packing needs more than max_particles = {spec.max_particles} particles "
                f"for volume fraction {spec.volume_fraction}; raise max_particles or use "
                "larger particles",
            )
        if not all(_relax(rng, centers, radii, box, spec, s, fixed) for s in GROWTH):
            raise GeometryError(
                f"{key}.volume_fraction",
                f"collective rearrangement jammed: {radii.size - fixed} particles for volume "
                f"fraction {spec.volume_fraction} still overlap after {MAX_SWEEPS} relaxation "
                "sweeps; use a lower fraction, a smaller min_gap, smaller particles or a larger "
                "box",
            )
        volume = sum(
            volume_in_cell(c, float(r), box, spec.placement)
            for c, r in zip(centers[fixed:], radii[fixed:], strict=True)
        )
        if target - volume <= half_particle:
            break
    else:
        raise GeometryError(
            f"{key}.volume_fraction",
            f"collective rearrangement reached volume fraction {volume / box_volume:.4f} in the "
            f"box after {FILL_ROUNDS} rounds, short of {spec.volume_fraction}",
        )
    return to_particles(centers[fixed:], radii[fixed:], species)
