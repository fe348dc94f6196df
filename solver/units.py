"""Unit parsing at the edge: case values are SI numbers or strings with units ("2 um", "50 MPa").

Every quantity type below is a float in SI once validated. A bare number is taken as SI; a
string must carry a unit of the right dimension, otherwise validation fails with a message that
names the expected dimension and an example.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any

import pint
from pydantic import BeforeValidator


@lru_cache(maxsize=1)
def registry() -> pint.UnitRegistry:
    """The one pint registry (built lazily: no import-time side effects)."""
    return pint.UnitRegistry()


def to_si(value: Any, dimension: str, example: str) -> float:
    """Convert a number (already SI) or a unit string to an SI float of ``dimension``.

    ``dimension`` is a pint dimensionality string such as ``"[length]"``; ``example`` is shown
    in the error message.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a number or a string with units like {example!r}")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a number or a string with units like {example!r}")
    try:
        return float(value)  # a plain number written as a string, e.g. YAML's "1e-6"
    except ValueError:
        pass
    ureg = registry()
    try:
        quantity: Any = ureg.Quantity(value.strip())
    except (pint.errors.PintError, ValueError, SyntaxError, AttributeError, TypeError) as exc:
        raise ValueError(f"cannot read {value!r} as a quantity (e.g. {example!r}): {exc}") from None
    if not isinstance(quantity, pint.Quantity):
        return float(quantity)
    expected = ureg.get_dimensionality(dimension)
    if quantity.dimensionality != expected:
        raise ValueError(
            f"{value!r} has dimension {quantity.dimensionality}, "
            f"expected {dimension} (e.g. {example!r})"
        )
    # 15 significant digits: "150 nm" -> 1.5e-07, not 1.5000000000000002e-07
    return float(f"{quantity.to_base_units().magnitude:.15g}")


def _quantity(dimension: str, example: str) -> BeforeValidator:
    return BeforeValidator(lambda v: to_si(v, dimension, example))


Length = Annotated[float, _quantity("[length]", "2 um")]
"""Length (m)."""
Pressure = Annotated[float, _quantity("[pressure]", "50 MPa")]
"""Pressure, stress or modulus (Pa)."""
Time = Annotated[float, _quantity("[time]", "10 min")]
"""Time (s)."""
Toughness = Annotated[float, _quantity("[pressure] * [length] ** 0.5", "0.23 MPa*m**0.5")]
"""Fracture toughness (Pa m^0.5)."""
MolarVolume = Annotated[float, _quantity("[volume] / [substance]", "9e-6 m**3/mol")]
"""Partial molar volume (m3 mol-1)."""
Concentration = Annotated[float, _quantity("[substance] / [volume]", "3.11e5 mol/m**3")]
"""Concentration (mol m-3)."""
Diffusivity = Annotated[float, _quantity("[length] ** 2 / [time]", "1e-16 m^2/s")]
"""Diffusion coefficient (m2 s-1)."""
Stiffness = Annotated[float, _quantity("[pressure] / [length]", "1e13 Pa/m")]
"""Areal spring stiffness of a test fixture, N/m per m² of cell area (Pa m-1)."""
Volume = Annotated[float, _quantity("[length] ** 3", "1 um**3")]
"""Volume (m3)."""


def to_kelvin(value: Any) -> float:
    """A temperature in K: a number (K) or "<number> <unit>" ("298.15 K", "25 degC", "77 degF").

    pint refuses "25 degC" as a product (offset unit), so the magnitude is split off first.
    """
    if isinstance(value, str):
        match = re.fullmatch(r"\s*([-+0-9.eE]+)\s*([^\s].*?)\s*", value)
        if match:
            try:
                quantity = registry().Quantity(float(match.group(1)), match.group(2))
                return float(f"{quantity.to('kelvin').magnitude:.15g}")
            except (pint.errors.PintError, ValueError, AttributeError, TypeError):
                pass
    return to_si(value, "[temperature]", "298.15 K")


Temperature = Annotated[float, BeforeValidator(to_kelvin)]
"""Absolute temperature (K); "25 degC" is converted to 298.15 K."""
SurfaceEnergy = Annotated[float, _quantity("[mass] / [time] ** 2", "8.5 J/m**2")]
"""Fracture energy / energy per area (J m-2)."""
CurrentDensity = Annotated[float, _quantity("[current] / [length] ** 2", "2 A/m^2")]
"""Electric current density (A m-2)."""
MolarEnergy = Annotated[
    float, _quantity("[mass] * [length] ** 2 / [time] ** 2 / [substance]", "12 kJ/mol")
]
"""Energy per mole (J mol-1)."""
GradientEnergy = Annotated[
    float, _quantity("[mass] * [length] ** 4 / [time] ** 2 / [substance]", "1e-12 J*m**2/mol")
]
"""Gradient-energy coefficient of a Cahn–Hilliard free energy (J m2 mol-1)."""
