"""Regular-solution free energy of Li in Si: miscibility gap, binodal and spinodal (pure numbers).

Homogeneous molar free energy of mixing, θ = c/c_max (-), per mole of host sites (J mol-1):

    g(θ) = RT [θ ln θ + (1 − θ) ln(1 − θ)] + Ω_rs θ (1 − θ)

    μ0(θ) = g'(θ) = RT ln(θ/(1 − θ)) + Ω_rs (1 − 2θ)                    (J mol-1)

With χ = Ω_rs/(RT) > 2 the curve g has two inflection points (the spinodal, θ(1 − θ) = 1/(2χ))
and, g being symmetric about θ = 1/2, the common tangent touches it at θ_α and θ_β = 1 − θ_α,
both at μ0 = 0 (the binodal):

    ln(θ/(1 − θ)) = χ (2θ − 1)

No dolfinx here: case validation (solver/case.py) and the solver share these formulas.
"""

from __future__ import annotations

import math

R_GAS = 8.314462618  # J mol-1 K-1 (CODATA 2018, exact)

CRITICAL_CHI = 2.0
"""χ = Ω_rs/(RT) above which the regular solution separates into two phases."""


def binodal(chi: float) -> tuple[float, float]:
    """Coexisting compositions θ_α < 1/2 < θ_β = 1 − θ_α (-) of the regular solution at χ > 2.

    Bisection on h(θ) = ln(θ/(1 − θ)) − χ(2θ − 1) over (0, θ_spinodal): h < 0 just above 0
    and h > 0 at the spinodal, where h has its only maximum below 1/2; 200 halvings reach
    double precision.
    """
    if chi <= CRITICAL_CHI:
        raise ValueError(f"no miscibility gap for χ = Ω_rs/(RT) = {chi:g} ≤ 2")
    lo, hi = 0.0, spinodal(chi)[0]
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid == lo or mid == hi:
            break
        if math.log(mid / (1.0 - mid)) - chi * (2.0 * mid - 1.0) < 0.0:
            lo = mid
        else:
            hi = mid
    theta_alpha = 0.5 * (lo + hi)
    return theta_alpha, 1.0 - theta_alpha


def spinodal(chi: float) -> tuple[float, float]:
    """Spinodal compositions (-), θ(1 − θ) = 1/(2χ): g'' < 0 between them (χ > 2)."""
    if chi <= CRITICAL_CHI:
        raise ValueError(f"no spinodal for χ = Ω_rs/(RT) = {chi:g} ≤ 2")
    root = math.sqrt(0.25 - 0.5 / chi)
    return 0.5 - root, 0.5 + root
