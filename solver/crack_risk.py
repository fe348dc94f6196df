"""Crack-risk measures (physics.md, section 4): pure formulas on cell-wise (DG0) values.

σ1 is the maximum principal stress (Pa, tension positive), ⟨x⟩ = max(x, 0).

1. Strength index R_σ = σ1 / σ_f with σ_f = K_IC / (Y √(π a0)) (flaw size a0, geometry
   factor Y): R_σ ≥ 1 means a flaw of size a0 would propagate.
2. Griffith critical flaw size a_c = (K_IC / (Y σ1))² / π where σ1 > 0; elsewhere (and in
   materials without K_IC) the finite sentinel ``NO_FLAW_LIMIT`` = 1 m, far above any
   modelled length, so ParaView colour maps and minima stay finite.
3. Weibull failure probability P_f = 1 − exp(−Σ_cells (⟨σ1⟩/σ0)^m V_cell / V0) (weakest
   link, Weibull 1939), per material and per particle.
4. Interface debonding (quadratic nominal-stress criterion, e.g. Camanho & Dávila 2002):
   on a facet with unit normal n, traction t = σ n, t_n = n·t, |t_t| = |t − t_n n|;
   D = √(⟨t_n/σ_int⟩² + (|t_t|/τ_int)²); a facet with D > 1 counts as debonded.
5. Particle fracture by energy (after Zhao, Pharr & Suo 2010, J. Appl. Phys. 108, 073517,
   "Fracture of electrodes in lithium-ion batteries caused by fast charging"): a crack that
   cuts a particle of radius R through its centre creates the area π R² and cannot release
   more than the elastic energy stored in the particle, U = w̄ (4/3) π R³ with w̄ the mean
   elastic energy density w = ½ σ : C⁻¹ : σ (J m-3). No such crack can grow while
   U < Γ π R², i.e. the energy index η = U / (Γ π R²) < 1. Since w̄ does not depend on R for
   a given state (uniform θ, geometrically similar particles), this gives the critical radius
   R_c = 3 Γ / (4 w̄) (η = R / R_c): particles smaller than R_c cannot crack, whatever their
   flaws. It is a bound (all stored energy released), hence conservative. A long cylinder
   (2D plane-strain section, per unit length): U = w̄ π R², crack area 2R, η = π R w̄/(2Γ),
   R_c = 2Γ/(π w̄).
6. Compressive crushing of the electrolyte: σ_vm / σ_Y and −σ_h / H (hardness H, σ_Y ≈ H/3).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

NO_FLAW_LIMIT = 1.0
"""Critical size (m) reported where nothing can crack: the critical flaw size where σ1 ≤ 0 or
a material has no K_IC, the critical particle radius where no elastic energy is stored."""


def strength_index(max_principal: Array, strength: float | Array) -> Array:
    """R_σ = σ1 / σ_f (-) for σ1 (Pa) and fracture strength σ_f (Pa); compression gives < 0."""
    return max_principal / strength


def critical_flaw_size(max_principal: Array, toughness: Array, geometry_factor: Array) -> Array:
    """a_c = (K_IC/(Y σ1))²/π (m) where σ1 > 0 and K_IC is finite, else ``NO_FLAW_LIMIT``."""
    out = np.full(max_principal.shape, NO_FLAW_LIMIT)
    ok = (max_principal > 0) & np.isfinite(toughness)
    a_c = (toughness[ok] / (geometry_factor[ok] * max_principal[ok])) ** 2 / np.pi
    out[ok] = np.minimum(a_c, NO_FLAW_LIMIT)
    return out


def weibull_risk_density(max_principal: Array, sigma0: float, modulus: float, v0: float) -> Array:
    """(⟨σ1⟩/σ0)^m / V0 (m-3): integrate over the volume to get the risk of rupture."""
    return (np.maximum(max_principal, 0.0) / sigma0) ** modulus / v0


def failure_probability(risk_of_rupture: float | Array) -> float | Array:
    """P_f = 1 − exp(−B) (-) for the risk of rupture B = ∫ (⟨σ1⟩/σ0)^m dV / V0."""
    return -np.expm1(-np.asarray(risk_of_rupture, dtype=float))


def elastic_energy_density(sigma: Array, lmbda: Array, mu: Array) -> Array:
    """W = ½ σ:C⁻¹:σ = σ:σ/(4μ) − λ (tr σ)²/(4μ(3λ + 2μ)) (J m-3) of isotropic cells.

    ``sigma`` has shape (cells, 3, 3); λ, μ (Pa) per cell.
    """
    ss = np.einsum("cij,cij->c", sigma, sigma)
    tr = np.trace(sigma, axis1=1, axis2=2)
    return ss / (4 * mu) - lmbda * tr**2 / (4 * mu * (3 * lmbda + 2 * mu))


def critical_particle_radius(
    fracture_energy: float, mean_energy_density: Array, dim: int = 3
) -> Array:
    """R_c = 3Γ/(4 w̄) (m; cylinders, ``dim`` 2: 2Γ/(π w̄)), Γ (J m-2), w̄ (J m-3).

    Capped at ``NO_FLAW_LIMIT``.
    """
    w = np.maximum(np.asarray(mean_energy_density, dtype=float), 1e-300)
    factor = 3.0 / 4.0 if dim == 3 else 2.0 / np.pi
    return np.minimum(factor * fracture_energy / w, NO_FLAW_LIMIT)


def interface_tractions(sigma: Array, normals: Array) -> tuple[Array, Array]:
    """Normal t_n = n·σ·n (Pa, tension positive) and shear |t_t| (Pa) on facets.

    ``sigma`` (facets, 3, 3), ``normals`` unit vectors (facets, 3).
    """
    t = np.einsum("fij,fj->fi", sigma, normals)
    t_n = np.einsum("fi,fi->f", t, normals)
    t_t = np.linalg.norm(t - t_n[:, None] * normals, axis=1)
    return t_n, t_t


def debond_index(t_n: Array, t_t: Array, normal_strength: float, shear_strength: float) -> Array:
    """D = √(⟨t_n/σ_int⟩² + (|t_t|/τ_int)²) (-); D > 1: the interface debonds."""
    return np.hypot(np.maximum(t_n, 0.0) / normal_strength, t_t / shear_strength)
