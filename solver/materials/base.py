"""Isotropic linear-elastic material with an optional lithiation expansion and fracture data.

Moduli may depend on the Li fraction θ: E(θ) = E + (E_lithiated − E) θ, likewise ν (linear
in θ, i.e. in x of LixSi); a material without ``*_lithiated`` values is θ-independent.
Strength for crack risk: σ_f = K_IC / (Y √(π a0)) with flaw size a0 and geometry factor Y.
Weibull statistics (σ0, m, V0): P_f = 1 − exp(−∫ (⟨σ1⟩/σ0)^m dV / V0). Fracture energy Γ
(J m-2; Irwin plane strain Γ = K_IC² (1 − ν²)/E(θ) when not given). Hardness H and yield
strength σ_Y (σ_Y = H/3 when not given) for the compressive crushing indices.
Plastic flow (model ``finite`` with ``mechanics.plasticity``): J2 flow stress
σ_Y(θ) = flow_stress + (flow_stress_lithiated − flow_stress) θ when ``flow_stress`` is given,
else the crushing σ_Y above (H/3: sulfide electrolytes flow at about a third of their hardness);
no plastic flow without either. ``flow_pressure_sensitivity`` α (-, default 0: J2) makes the
flow stress rise with the pressure p = −σ_h, σ_Y(θ, p) = max(σ_Y(θ) + α p, 0) (a
Drucker–Prager cone in the von Mises–pressure plane, non-associated: the flow stays
isochoric); a biaxially clamped film then flows at −σ_Y/(1 − 2α/3) in compression and
+σ_Y/(1 + 2α/3) in tension, the tension–compression asymmetry of LixSi films and of
pressure-sensitive sulfide electrolytes. α < 1.5, so that a biaxially compressed film still
yields; under triaxial confinement (a particle in a matrix) the cone closes off compressive
flow for any α > 0.
``electrolyte``: the material conducts Li ions, so its interfaces with a Li host are where
Li enters by default. Lithium host data for transport: c_max (mol m-3, per reference, i.e.
unlithiated, volume).
θ-dependent properties take θ as a float or a NumPy array and return the same kind. E, ν
and σ_Y are linear in θ on [0, 1] and constant beyond (θ may pass 1 where a uniform
interfacial flux overfills small particles; extrapolated moduli would vanish or turn negative).
"""

from __future__ import annotations

import math
from typing import Annotated, cast

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from solver.materials.expansion import ExpansionLaw, LinearExpansion, Theta
from solver.units import Concentration, Length, Pressure, SurfaceEnergy, Toughness, Volume

PositivePressure = Annotated[Pressure, Field(gt=0)]


def _on_unit_range(theta: Theta) -> Theta:
    """θ clipped to [0, 1] (-): the range over which properties are interpolated."""
    return cast(Theta, np.clip(theta, 0.0, 1.0))


Poisson = Annotated[float, Field(gt=-1, lt=0.5)]


class Material(BaseModel):
    """A named parameter set; every default value carries its source in ``sources``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    description: str = ""
    E: PositivePressure
    nu: Poisson
    E_lithiated: PositivePressure | None = None
    nu_lithiated: Poisson | None = None
    expansion: ExpansionLaw | None = None
    c_max: Annotated[Concentration, Field(gt=0)] | None = None
    K_IC: Annotated[Toughness, Field(gt=0)] | None = None
    flaw_size: Annotated[Length, Field(gt=0)] = 0.5e-6
    flaw_geometry_factor: Annotated[float, Field(gt=0)] = 1.12
    weibull_modulus: Annotated[float, Field(gt=0)] | None = None
    weibull_stress: PositivePressure | None = None
    weibull_volume: Annotated[Volume, Field(gt=0)] | None = None
    fracture_energy: Annotated[SurfaceEnergy, Field(gt=0)] | None = None
    hardness: PositivePressure | None = None
    yield_strength: PositivePressure | None = None
    flow_stress: PositivePressure | None = None
    flow_stress_lithiated: PositivePressure | None = None
    flow_pressure_sensitivity: Annotated[float, Field(ge=0, lt=1.5)] = 0.0
    electrolyte: bool = False
    sources: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _weibull_complete(self) -> Material:
        given = [self.weibull_modulus, self.weibull_stress, self.weibull_volume]
        if any(v is not None for v in given) and any(v is None for v in given):
            raise ValueError(
                "Weibull statistics need all of weibull_modulus, weibull_stress, weibull_volume"
            )
        return self

    @model_validator(mode="after")
    def _one_c_max(self) -> Material:
        law = self.expansion
        if self.c_max is not None and self.expansion is None:
            raise ValueError("c_max is only meaningful for a material with an expansion law")
        if isinstance(law, LinearExpansion) and self.c_max not in (None, law.c_max):
            raise ValueError(
                f"c_max {self.c_max} differs from the linear expansion law's c_max {law.c_max}"
            )
        return self

    def partial_molar_volume(self, theta: Theta) -> Theta | None:
        """Ω = (1/c_max) d(ΔV/V0)/dθ (m3 mol-1) at ``theta``; None without c_max or expansion.

        For LixSi (ΔV/V0 = 2.8 θ, c_max = 3.11e5 mol m-3): Ω = 9.0e-6 m3 mol-1 (physics.md §2).
        A tabulated law's slope is a difference over [θ − h, θ + h] ∩ [0, 1] (h = 1e-4,
        one-sided at the ends), with θ clipped to [0, 1] (the end slopes hold beyond).
        """
        c_max = self.max_concentration
        if self.expansion is None or c_max is None:
            return None
        if isinstance(self.expansion, LinearExpansion):
            return cast(Theta, self.expansion.partial_molar_volume + 0.0 * theta)
        h, t = 1e-4, _on_unit_range(theta)
        lo, hi = np.maximum(t - h, 0.0), np.minimum(t + h, 1.0)
        slope = (self.expansion.volume_change(hi) - self.expansion.volume_change(lo)) / (hi - lo)
        return cast(Theta, slope / c_max)

    @property
    def max_concentration(self) -> float | None:
        """c_max (mol m-3 of reference volume): ``c_max`` or the linear expansion law's."""
        if self.c_max is not None:
            return self.c_max
        return self.expansion.c_max if isinstance(self.expansion, LinearExpansion) else None

    @property
    def active(self) -> bool:
        """True if the material hosts lithium (has an expansion law)."""
        return self.expansion is not None

    def youngs_modulus(self, theta: Theta) -> Theta:
        """E (Pa) at Li fraction ``theta``."""
        E_lithiated = self.E if self.E_lithiated is None else self.E_lithiated
        return self.E + (E_lithiated - self.E) * _on_unit_range(theta)

    def poisson_ratio(self, theta: Theta) -> Theta:
        """ν (-) at Li fraction ``theta``."""
        nu_lithiated = self.nu if self.nu_lithiated is None else self.nu_lithiated
        return self.nu + (nu_lithiated - self.nu) * _on_unit_range(theta)

    def lame(self, theta: Theta) -> tuple[Theta, Theta]:
        """Lamé parameters (λ, μ) in Pa at Li fraction ``theta``."""
        E, nu = self.youngs_modulus(theta), self.poisson_ratio(theta)
        return E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))

    def chemical_strain(self, theta: Theta) -> Theta:
        """Isotropic chemical strain β (-); 0 for a material that hosts no lithium."""
        return 0.0 * theta if self.expansion is None else self.expansion.strain(theta)

    @property
    def fracture_strength(self) -> float | None:
        """σ_f = K_IC / (Y √(π a0)) (Pa), or None without K_IC (crack risk not defined)."""
        if self.K_IC is None:
            return None
        return self.K_IC / (self.flaw_geometry_factor * math.sqrt(math.pi * self.flaw_size))

    @property
    def weibull(self) -> tuple[float, float, float] | None:
        """(σ0 (Pa), m (-), V0 (m3)) of the Weibull statistics, or None."""
        if self.weibull_modulus is None or self.weibull_stress is None:
            return None
        assert self.weibull_volume is not None  # checked by the validator
        return self.weibull_stress, self.weibull_modulus, self.weibull_volume

    def griffith_energy(self, theta: float) -> float | None:
        """Γ (J m-2) at ``theta``: given, else Irwin K_IC² (1 − ν²)/E; None without either."""
        if self.fracture_energy is not None:
            return self.fracture_energy
        if self.K_IC is None:
            return None
        nu = self.poisson_ratio(theta)
        return self.K_IC**2 * (1 - nu**2) / self.youngs_modulus(theta)

    @property
    def plastic(self) -> bool:
        """True if the material has a J2 flow stress (``flow_stress``, ``yield_strength``, H)."""
        return self.flow_stress is not None or self.crush_yield is not None

    def flow_stress_at(self, theta: Theta) -> Theta:
        """J2 flow stress σ_Y (Pa) at Li fraction ``theta`` (see module docstring).

        Raises ValueError for a material without any flow stress (check ``plastic``).
        """
        if self.flow_stress is not None:
            lithiated = (
                self.flow_stress
                if self.flow_stress_lithiated is None
                else (self.flow_stress_lithiated)
            )
            return self.flow_stress + (lithiated - self.flow_stress) * _on_unit_range(theta)
        if self.crush_yield is None:
            raise ValueError(f"material {self.name!r} has no flow stress")
        return self.crush_yield + 0.0 * theta

    @model_validator(mode="after")
    def _flow_pair(self) -> Material:
        if self.flow_stress_lithiated is not None and self.flow_stress is None:
            raise ValueError("flow_stress_lithiated needs flow_stress")
        return self

    @property
    def crush_yield(self) -> float | None:
        """σ_Y (Pa) for the crushing index: given, else H/3; None without either."""
        if self.yield_strength is not None:
            return self.yield_strength
        return None if self.hardness is None else self.hardness / 3.0
