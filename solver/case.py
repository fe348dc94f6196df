"""Case files: YAML → one frozen, validated, SI-valued ``Case``.

Every default lives in the models below (the one place they are documented; ``ssbmech check``
prints the resolved case). Unknown keys are errors that name the file, the key path and the
nearest valid key. Numbers are SI; strings may carry units ("2 um", "50 MPa").
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    model_validator,
)

from meshes.errors import GeometryError
from meshes.particle_rve import ParticleRVESpec, place_particles
from solver.errors import CaseError
from solver.materials import Material, material_data
from solver.units import Pressure, Stiffness

SOC = Annotated[float, Field(ge=0, le=1)]


def _parse_c_rate(value: Any) -> Any:
    """Accept 1.0 (h-1), "1C", "0.5 C" or "C/10"."""
    if isinstance(value, str):
        text = value.replace(" ", "")
        match = re.fullmatch(r"C/([0-9.eE+-]+)", text)
        if match:
            return 1.0 / float(match.group(1))
        match = re.fullmatch(r"([0-9.eE+-]+)C", text)
        if match:
            return float(match.group(1))
        raise ValueError(f"cannot read C-rate {value!r}: use a number (per hour), '1C' or 'C/10'")
    return value


CRate = Annotated[float, BeforeValidator(_parse_c_rate), Field(gt=0)]
"""C-rate (h-1): 1C lithiates from SOC 0 to 1 in one hour."""


def _material_entry(value: Any) -> Any:
    """A library name, ``{base: NAME, <field>: override, …}`` or a complete material."""
    if isinstance(value, str):
        return material_data(value, {})
    if isinstance(value, dict) and "base" in value:
        return material_data(str(value["base"]), {k: v for k, v in value.items() if k != "base"})
    return value


MaterialRef = Annotated[Material, BeforeValidator(_material_entry)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Lithiation(_Frozen):
    """Uniform lithiation: θ = SOC in every active material, ramped linearly in time."""

    mode: Literal["uniform"] = "uniform"
    soc_start: SOC = 0.0
    soc_end: SOC
    c_rate: CRate = 1.0
    steps: PositiveInt = 10

    def soc_at(self, step: int) -> float:
        """SOC (-) after ``step`` of ``steps`` increments (step 0 is the initial state)."""
        return self.soc_start + (self.soc_end - self.soc_start) * step / self.steps

    def time_at(self, step: int) -> float:
        """Time (s) at ``step``: |ΔSOC| / C-rate hours."""
        return abs(self.soc_at(step) - self.soc_start) / self.c_rate * 3600.0


class Loading(_Frozen):
    """Mechanical loading of the top face (zmax); lateral faces rollers, bottom fixed normal.

    - ``pressure``: constant stack pressure traction on the top face.
    - ``fixed_gap``: rigid platen held where the preload ``stack_pressure`` put it at the
      start; the stack pressure follows from the reaction force.
    - ``spring``: rigid platen on a fixture of areal stiffness ``spring_stiffness``
      (N/m per m² of cell, i.e. Pa/m), preloaded to ``stack_pressure``.
    - ``free``: no supports (rigid-body modes removed); required without a matrix box.

    With ``placement: periodic`` the modes act on the macroscopic strain of the periodic cell
    instead of faces (see ``solver.physics.periodic``).
    """

    mode: Literal["pressure", "fixed_gap", "spring", "free"] = "pressure"
    stack_pressure: Annotated[Pressure, Field(ge=0)] = 0.0
    spring_stiffness: Annotated[Stiffness, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _spring_needs_stiffness(self) -> Loading:
        if self.mode == "spring" and self.spring_stiffness is None:
            raise ValueError("mode 'spring' needs spring_stiffness (e.g. '1e13 Pa/m')")
        if self.mode != "spring" and self.spring_stiffness is not None:
            raise ValueError("spring_stiffness is only used with mode 'spring'")
        if self.mode == "free" and self.stack_pressure != 0:
            raise ValueError("mode 'free' takes no stack_pressure")
        return self


PetscValue = str | int | float | bool


class SolverSettings(_Frozen):
    """Discretisation and linear solver: Lagrange degree of u; PETSc options override defaults.

    Options are given without prefix (e.g. ``ksp_rtol: 1e-8``, ``pc_type: hypre``).
    """

    degree: Literal[1, 2] = 1
    petsc_options: dict[str, PetscValue] = Field(default_factory=dict)


class Output(_Frozen):
    """What is written: fields every ``fields_every`` steps (the last step always)."""

    fields_every: PositiveInt = 1


class Case(_Frozen):
    """A complete, validated case (SI units)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    description: str = ""
    references: list[str] = Field(default_factory=list)
    model: Literal["uniform-small"] = "uniform-small"
    geometry: ParticleRVESpec
    materials: dict[str, MaterialRef]
    lithiation: Lithiation
    loading: Loading = Loading()
    solver: SolverSettings = SolverSettings()
    output: Output = Output()

    @model_validator(mode="after")
    def _consistent(self) -> Case:
        regions = set(self.geometry.regions)
        missing, extra = regions - set(self.materials), set(self.materials) - regions
        if missing or extra:
            raise ValueError(
                f"materials must name exactly the regions of the geometry {sorted(regions)}; "
                + (f"missing {sorted(missing)} " if missing else "")
                + (f"unknown {sorted(extra)}" if extra else "")
            )
        if not any(m.active for m in self.materials.values()):
            raise ValueError("no material hosts lithium (none has an expansion law)")
        if not self.geometry.matrix and self.loading.mode != "free":
            raise ValueError(
                f"loading.mode {self.loading.mode!r} needs the box faces; a geometry without "
                "matrix takes loading.mode 'free'"
            )
        return self


# --------------------------------------------------------------------------- loading + errors


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides (value parsed as YAML) to raw case data."""
    for item in overrides:
        if "=" not in item:
            raise CaseError(f"--set {item!r}: expected key.path=value")
        path, raw = item.split("=", 1)
        keys = path.strip().split(".")
        node: Any = data
        for key in keys[:-1]:
            if isinstance(node, list):
                node = node[int(key)]
            else:
                node = node.setdefault(key, {})
        value = yaml.safe_load(raw)
        if isinstance(node, list):
            node[int(keys[-1])] = value
        elif isinstance(node, dict):
            node[keys[-1]] = value
        else:
            raise CaseError(f"--set {item!r}: {'.'.join(keys[:-1])} is not a mapping")
    return data


def load_case(path: Path, overrides: list[str] | None = None) -> Case:
    """Read, override and validate a case file; raise CaseError naming file and key."""
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise CaseError(f"{path}: no such case file") from None
    except yaml.YAMLError as exc:
        raise CaseError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise CaseError(f"{path}: a case file is a mapping of keys (name, geometry, …)")
    data = apply_overrides(data, overrides or [])
    try:
        return Case.model_validate(data, context={"base_dir": path.parent})
    except ValidationError as exc:
        raise CaseError(format_validation_error(path, data, exc)) from None


def check_geometry(case: Case, path: Path) -> None:
    """Place the particles (no meshing): an impossible geometry raises CaseError."""
    try:
        place_particles(case.geometry)
    except GeometryError as exc:
        raise geometry_error(path, exc) from None


def geometry_error(path: Path, exc: GeometryError) -> CaseError:
    """A geometry error as a CaseError naming the file and the key."""
    return CaseError(f"{path}: geometry.{exc.key}: {exc}")


def format_validation_error(path: Path, data: dict[str, Any], exc: ValidationError) -> str:
    """One line per problem: ``file: key.path: message`` (+ nearest valid key)."""
    lines = []
    for err in exc.errors():
        loc = _data_path(data, err["loc"])
        where = ".".join(str(k) for k in loc) or "(top level)"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(err["loc"][:-1])
            close = difflib.get_close_matches(str(err["loc"][-1]), allowed, n=1, cutoff=0.5)
            message = "unknown key" + (f"; did you mean {close[0]!r}?" if close else "")
            if allowed:
                message += f" (allowed: {', '.join(sorted(allowed))})"
        elif err["type"] == "missing":
            message = "required key is missing"
        elif "input" in err and not isinstance(err["input"], dict | list):
            message += f" (got {err['input']!r})"
        lines.append(f"{path}: {where}: {message}")
    return "\n".join(lines)


def _data_path(data: Any, loc: tuple[Any, ...]) -> list[Any]:
    """Keep the loc elements that are keys/indices of the user's data (drop union tags)."""
    out, node = [], data
    for key in loc:
        if isinstance(node, dict) and key in node:
            out.append(key)
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            out.append(key)
            node = node[key]
        elif not isinstance(node, dict | list):
            out.append(key)
    return out


def _models_in(annotation: Any) -> list[Any]:
    """Model classes and containers (dict/list/tuple) inside a type annotation."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    if origin in (dict, list, tuple):
        return [annotation]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model(s) found at ``loc`` in the Case schema."""
    nodes: list[Any] = [Case]
    for key in loc:
        nxt: list[Any] = []
        for node in nodes:
            if isinstance(node, type) and issubclass(node, BaseModel):
                if key in node.model_fields:
                    nxt += _models_in(node.model_fields[key].annotation)
                else:  # a union tag such as 'random': stay on this model
                    nxt.append(node)
            elif typing.get_origin(node) in (dict, list, tuple):
                nxt += [m for arg in typing.get_args(node)[-1:] for m in _models_in(arg)]
        nodes = nxt
    return sorted(
        {
            f
            for n in nodes
            if isinstance(n, type) and issubclass(n, BaseModel)
            for f in n.model_fields
        }
    )


def dump_resolved(case: Case) -> str:
    """The case after defaults, overrides and unit conversion, as YAML (SI units)."""
    header = "# resolved by ssbmech: all values SI (m, Pa, s, mol); defaults filled in\n"
    return header + yaml.safe_dump(
        case.model_dump(mode="json"), sort_keys=False, allow_unicode=True
    )
