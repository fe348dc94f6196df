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
