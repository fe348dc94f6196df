"""Isotropic linear-elastic material with an optional lithiation expansion and fracture data.

Moduli may depend on the Li fraction θ: E(θ) = E + (E_lithiated − E) θ, likewise ν (linear
in θ, i.e. in x of LixSi); a material without ``*_lithiated`` values is θ-independent.
Strength for crack risk: σ_f = K_IC / (Y √(π a0)) with flaw size a0 and geometry factor Y.
Lithium host data for transport: c_max (mol m-3, per reference, i.e. unlithiated, volume).
θ-dependent properties take θ as a float or a NumPy array and return the same kind.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from solver.materials.expansion import ExpansionLaw, LinearExpansion, Theta
from solver.units import Concentration, Length, Pressure, Toughness

PositivePressure = Annotated[Pressure, Field(gt=0)]
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
    sources: dict[str, str] = Field(default_factory=dict)

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
        return self.E + (E_lithiated - self.E) * theta

    def poisson_ratio(self, theta: Theta) -> Theta:
        """ν (-) at Li fraction ``theta``."""
        nu_lithiated = self.nu if self.nu_lithiated is None else self.nu_lithiated
        return self.nu + (nu_lithiated - self.nu) * theta

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
