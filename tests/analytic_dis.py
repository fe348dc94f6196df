"""Diffusion-induced stress in a free sphere under constant inward flux (physics.md §3.3).

Constant D, E, ν, Ω; c(r, 0) = 0; inward surface flux j (mol m-2 s-1). With x = r/R,
τ = D t / R², and λ_n the positive roots of tan λ = λ (Crank 1975, eq. 6.43; Cheng &
Verbrugge 2009):

    c = (j R / D) [3τ + x²/2 − 3/10 − (2/x) Σ sin(λ_n x) / (λ_n² sin λ_n) e^(−λ_n² τ)]
    φ(r) = (3/r³) ∫₀ʳ c r² dr,  c̄ = φ(R) = 3 j t / R
    σ_r = 2ΩE/(9(1−ν)) (c̄ − φ),  σ_θ = ΩE/(9(1−ν)) (2c̄ + φ − 3c)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


def roots(n: int) -> Array:
    """The first ``n`` positive roots of tan λ = λ, one in each (kπ, (k+½)π): bisection."""
    lo = np.arange(1, n + 1) * np.pi + 1e-9
    hi = lo + 0.5 * np.pi - 2e-9
    for _ in range(80):  # f = sin λ − λ cos λ changes sign once in each bracket
        mid = 0.5 * (lo + hi)
        same = np.sign(np.sin(mid) - mid * np.cos(mid)) == np.sign(np.sin(lo) - lo * np.cos(lo))
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    return 0.5 * (lo + hi)


class SphereDIS:
    """The analytic fields (SI) of a sphere of radius R (m) with D (m2 s-1), flux j."""

    def __init__(
        self, R: float, D: float, j: float, E: float, nu: float, omega: float, terms: int = 400
    ) -> None:
        self.R, self.D, self.j = R, D, j
        self.stress_scale = omega * E / (9 * (1 - nu))  # Pa m3 mol-1
        self.lam = roots(terms)

    def _series(self, x: Array, tau: float) -> tuple[Array, Array]:
        """The series parts of c and of φ (in units of j R / D), finite at x = 0."""
        lam = self.lam[:, None]
        x = np.asarray(x, dtype=float)[None, :]
        weight = np.exp(-(lam**2) * tau) / (lam**2 * np.sin(lam))
        lx = lam * x
        small = lx < 1e-2  # Taylor: sin(λx)/x → λ, (sin λx − λx cos λx)/x³ → λ³/3 (1 − (λx)²/10)
        xs = np.where(small, 1.0, x)
        s_c = np.where(small, lam * (1 - lx**2 / 6), np.sin(lx) / xs)
        s_phi = np.where(
            small, lam**3 / 3 * (1 - lx**2 / 10), (np.sin(lx) - lx * np.cos(lx)) / xs**3
        )
        return -2 * (weight * s_c).sum(axis=0), -6 * (weight * s_phi / lam**2).sum(axis=0)

    def fields(self, r: Array, t: float) -> tuple[Array, Array, Array, Array]:
        """c, φ (mol m-3), σ_r, σ_θ (Pa) at radii ``r`` (m) and time ``t`` (s)."""
        x = np.asarray(r, dtype=float) / self.R
        tau = self.D * t / self.R**2
        series_c, series_phi = self._series(x, tau)
        scale = self.j * self.R / self.D
        c = scale * (3 * tau + x**2 / 2 - 0.3 + series_c)
        phi = scale * (3 * tau + 3 * x**2 / 10 - 0.3 + series_phi)
        cbar = 3 * self.j * t / self.R
        sigma_r = 2 * self.stress_scale * (cbar - phi)
        sigma_t = self.stress_scale * (2 * cbar + phi - 3 * c)
        return c, phi, sigma_r, sigma_t


def bessel_j(n: int, x: Array) -> Array:
    """J_n(x) = (1/π) ∫₀^π cos(n s − x sin s) ds (trapezoid rule: spectral for this integrand)."""
    s = np.linspace(0.0, np.pi, 401)
    values = np.cos(n * s - np.multiply.outer(np.asarray(x, dtype=float), np.sin(s)))
    weights = np.full(s.size, np.pi / (s.size - 1))
    weights[[0, -1]] *= 0.5
    return np.asarray(values @ weights / np.pi)


def bessel_j1_roots(n: int) -> Array:
    """The first ``n`` positive roots of J1, bracketed around McMahon's (k + 1/4)π: bisection."""
    guess = (np.arange(1, n + 1) + 0.25) * np.pi
    lo, hi = guess - 0.5, guess + 0.2
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        same = np.sign(bessel_j(1, mid)) == np.sign(bessel_j(1, lo))
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    return 0.5 * (lo + hi)


class CylinderDIS:
    """Long cylinder (radius R), radial diffusion from a constant inward flux j, plane strain.

    With α_n the positive roots of J1 (Crank 1975, §5.3.2 for the flux condition):
        c = (j R / D) [2τ + x²/2 − 1/4 − 2 Σ J0(α_n x) / (α_n² J0(α_n)) e^(−α_n² τ)]
        I(r) = r⁻² ∫₀ʳ c r dr,  K' = E Ω / (3 (1 − ν))
        σ_r = K'[I(R) − I(r)], σ_θ = K'[I(R) + I(r) − c], σ_z = K'[2ν I(R) − c] (ε_z = 0)
    (Timoshenko & Goodier thermal analogy, physics.md §3.6).
    """

    def __init__(
        self, R: float, D: float, j: float, E: float, nu: float, omega: float, terms: int = 60
    ) -> None:
        self.R, self.D, self.j, self.nu = R, D, j, nu
        self.k = E * omega / (3 * (1 - nu))  # Pa m3 mol-1
        self.alpha = bessel_j1_roots(terms)

    def fields(self, r: Array, t: float) -> tuple[Array, Array, Array, Array]:
        """c (mol m-3), σ_r, σ_θ, σ_z (Pa) at radii ``r`` (m) and time ``t`` (s)."""
        x = np.asarray(r, dtype=float) / self.R
        tau = self.D * t / self.R**2
        a = self.alpha[:, None]
        weight = np.exp(-(a**2) * tau) / (a**2 * bessel_j(0, self.alpha)[:, None])
        ax = a * x[None, :]
        j0 = bessel_j(0, ax.ravel()).reshape(ax.shape)
        j1 = bessel_j(1, ax.ravel()).reshape(ax.shape)
        j1_over = np.where(ax < 1e-8, 0.5, j1 / np.where(ax < 1e-8, 1.0, ax))  # J1(αx)/(αx)
        scale = self.j * self.R / self.D
        c = scale * (2 * tau + x**2 / 2 - 0.25 - 2 * (weight * j0).sum(axis=0))
        integral = scale * (tau + x**2 / 8 - 0.125 - 2 * (weight * j1_over).sum(axis=0))
        i_surface = scale * tau  # I(R) = c̄/2, c̄ = 2 j t / R
        sigma_r = self.k * (i_surface - integral)
        sigma_t = self.k * (i_surface + integral - c)
        sigma_z = self.k * (2 * self.nu * i_surface - c)
        return c, sigma_r, sigma_t, sigma_z
