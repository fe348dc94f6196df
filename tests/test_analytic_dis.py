"""Unit checks of the analytic diffusion-induced-stress solution (tests/analytic_dis.py).

Roots: tan λ = λ to 1e-12 (4.4934, 7.7253, …). Mass balance: 3∫₀¹ x² c dx = c̄ = 3 j t / R to
1e-9 at τ = 0.01 … 1. Long time (τ = 5): c − c̄ = (j R / D)(x²/2 − 3/10) to 1e-12. Short time
(τ = 1e-5): surface c = 2 (j/D) √(D t/π) of the semi-infinite solid within 0.5 %. Stresses:
σ_r(R) = 0, σ_r(0) = σ_θ(0), surface hoop ΩE(c̄ − c_s)/(3(1−ν)), and a zero volume mean of
σ_r + 2σ_θ (a free body carries no mean stress). Cylinder (physics.md §3.6): J1 roots to 1e-8,
J0 against its power series to 1e-12, mass balance 1e-5 (trapezoid) and the same stress identities.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.analytic_dis import CylinderDIS, SphereDIS, bessel_j, bessel_j1_roots, roots

R, D, J = 1e-6, 1e-14, 1e-3
E, NU, OMEGA = 100e9, 0.25, 9e-6


def trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))


def sphere(terms: int = 400) -> SphereDIS:
    return SphereDIS(R, D, J, E, NU, OMEGA, terms=terms)


def test_roots() -> None:
    lam = roots(50)
    assert lam[:2] == pytest.approx([4.493409457909, 7.725251836938], abs=1e-10)
    np.testing.assert_allclose(np.tan(lam), lam, rtol=1e-9)


@pytest.mark.parametrize("tau", [0.01, 0.1, 1.0])
def test_mass_balance(tau: float) -> None:
    t = tau * R**2 / D
    x = np.linspace(0, 1, 20001)
    c, *_ = sphere().fields(x * R, t)
    mean = 3 * trapezoid(x**2 * c, x)
    assert mean == pytest.approx(3 * J * t / R, rel=1e-6)


def test_long_time_parabolic_profile() -> None:
    t = 5.0 * R**2 / D
    x = np.linspace(0, 1, 11)
    c, _, sr, _ = sphere().fields(x * R, t)
    np.testing.assert_allclose(
        c - 3 * J * t / R, J * R / D * (x**2 / 2 - 0.3), atol=1e-12 * c.max()
    )
    # steady stresses: σ_r = 2K(c̄ − φ) with φ − c̄ = (jR/D)(3x²/10 − 3/10)
    k = OMEGA * E / (9 * (1 - NU))
    np.testing.assert_allclose(sr, 2 * k * J * R / D * 0.3 * (1 - x**2), rtol=1e-9, atol=1)


def test_short_time_surface_concentration() -> None:
    t = 1e-5 * R**2 / D
    c, *_ = sphere(terms=4000).fields(np.array([R]), t)
    assert c[0] == pytest.approx(2 * J / D * np.sqrt(D * t / np.pi), rel=5e-3)


def test_stress_identities() -> None:
    t = 0.15 * R**2 / D
    x = np.linspace(0, 1, 4001)
    c, _, sr, st = sphere().fields(x * R, t)
    assert abs(sr[-1]) < 1e-9 * abs(st).max()
    assert sr[0] == pytest.approx(st[0], rel=1e-9)
    cbar = 3 * J * t / R
    assert st[-1] == pytest.approx(OMEGA * E * (cbar - c[-1]) / (3 * (1 - NU)), rel=1e-9)
    assert st[-1] < 0 < st[0]  # compressive hoop stress at the surface during lithiation
    mean = 3 * trapezoid(x**2 * (sr + 2 * st), x)
    assert abs(mean) < 1e-6 * abs(st).max()


def test_cylinder_solution() -> None:
    # J1 roots; J0(x) against its power series; mass balance 2∫₀¹ x c dx = 2 j t / R;
    # σ_r(R) = 0, σ_r(0) = σ_θ(0); zero mean of σ_r + σ_θ over the section (free lateral surface).
    assert bessel_j1_roots(3) == pytest.approx([3.831705970, 7.015586670, 10.173468135], abs=1e-8)
    x = np.linspace(0, 2, 5)
    series = sum((-1) ** m * (x / 2) ** (2 * m) / float(math.factorial(m)) ** 2 for m in range(30))
    np.testing.assert_allclose(bessel_j(0, x), series, atol=1e-12)
    cyl = CylinderDIS(R, D, J, E, NU, OMEGA)
    t = 0.1 * R**2 / D
    x = np.linspace(0, 1, 801)
    c, sr, st, _ = cyl.fields(x * R, t)
    assert 2 * trapezoid(x * c, x) == pytest.approx(2 * J * t / R, rel=1e-5)
    assert abs(sr[-1]) < 1e-9 * abs(st).max() and sr[0] == pytest.approx(st[0], rel=1e-6)
    assert abs(2 * trapezoid(x * (sr + st), x)) < 1e-5 * abs(st).max()
