"""Which fields of a run can be drawn, with label, display unit and colour-map kind.

A drawable field is a scalar written to ``fields.xdmf`` (``max_principal``, ``von_mises``,
``hydrostatic``, ``crack_risk``, ``theta``, plastic strain, interface tractions …), the
magnitude of a vector (``u`` → displacement magnitude) or one component of a tensor
(``sigma`` → ``sigma_xx`` … ``sigma_xz``). Values are converted from SI to the display unit
here (stresses Pa → MPa, displacement m → nm). Signed stresses get a diverging colour map
centred at zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from postprocess.reader import RenderError, RunData

_COMPONENTS = {"xx": 0, "xy": 1, "xz": 2, "yy": 4, "yz": 5, "zz": 8}
#: written name → (label, unit, SI → unit factor, diverging)
_KNOWN: dict[str, tuple[str, str, float, bool]] = {
    "max_principal": ("σ1", "MPa", 1e-6, True),
    "von_mises": ("von Mises σ", "MPa", 1e-6, False),
    "hydrostatic": ("hydrostatic σ", "MPa", 1e-6, True),
    "crack_risk": ("crack risk σ1/σ_f", "–", 1.0, True),
    "theta": ("Li fraction θ", "–", 1.0, False),
    "u": ("displacement", "nm", 1e9, False),  # magnitude; VTK's text drops "|"
    "sigma": ("σ", "MPa", 1e-6, True),
    "sigma_zz": ("σ_zz", "MPa", 1e-6, True),  # written by 2D (plane-strain) runs
    "plastic_strain": ("plastic strain", "–", 1.0, False),
    "equivalent_plastic_strain": ("equivalent plastic strain", "–", 1.0, False),
    "interface_traction": ("interface traction", "MPa", 1e-6, True),
    "interface_normal_traction": ("interface normal traction", "MPa", 1e-6, True),
    "interface_shear_traction": ("interface shear traction", "MPa", 1e-6, False),
}
#: written, but not a field to colour by
_NOT_DRAWN = {"region"}


@dataclass(frozen=True)
class FieldSpec:
    """How to draw one field: ``source`` is the written name, ``key`` the requested one."""

    key: str
    source: str
    label: str
    unit: str
    scale: float
    diverging: bool
    #: tensor component index into the row-major 3×3 (None for scalars and vectors)
    component: int | None = None

    @property
    def title(self) -> str:
        """Colour-bar title, e.g. ``σ1 (MPa)``."""
        return f"{self.label} ({self.unit})"

    def values(self, raw: np.ndarray) -> np.ndarray:
        """Display values (``unit``) from the written array (N, N×1, N×3 or N×9; SI)."""
        a = np.asarray(raw, dtype=float)
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]
        if self.component is not None:
            a = a[:, self.component]
        elif a.ndim == 2:
            a = np.linalg.norm(a, axis=1)
        return a * self.scale


def available_fields(run: RunData) -> list[str]:
    """Names accepted by :func:`field_spec` for this run, written order (tensors expanded)."""
    out = []
    for name in run.fields:
        if name in _NOT_DRAWN:
            continue
        if name == "sigma" or run.field_width(name) == 9:
            out += [f"{name}_{c}" for c in _COMPONENTS]
        else:
            out.append(name)
    return list(dict.fromkeys(out))  # 2D runs write sigma_zz itself as well


def field_spec(run: RunData, key: str) -> FieldSpec:
    """Drawing recipe of ``key``; RenderError listing the available fields if it was not written."""
    have = available_fields(run)
    if key not in have:
        raise RenderError(
            f"{run.run_dir / 'fields.xdmf'}: no field {key!r}; available: {', '.join(have)}"
        )
    source, component = key, None
    base, _, comp = key.rpartition("_")
    if base in run.fields and comp in _COMPONENTS and key not in run.fields:
        source, component = base, _COMPONENTS[comp]
    label, unit, scale, diverging = _KNOWN.get(source, (source, "SI", 1.0, False))
    if component is not None:
        label = f"{label}_{comp}"
    return FieldSpec(key, source, label, unit, scale, diverging, component)
