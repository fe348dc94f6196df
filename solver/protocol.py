"""Lithiation protocols (``transport-small``, ``finite``): typed steps from strings or mappings.

A protocol (``lithiation: {mode: protocol, soc_start, steps: [...], dt | steps_per_step}``) is
a list of steps run one after the other; each entry is a string in the grammar below or the
equivalent mapping (``kind`` + keys), parsed into the frozen models ``ChargeStep``,
``DischargeStep``, ``RestStep`` and ``HoldStep``:

=====================================  ===================================================
string                                 mapping
=====================================  ===================================================
``charge 0.1C to soc 0.9``             ``{kind: charge, c_rate: 0.1C, to_soc: 0.9}``
``discharge C/10 for 30 min``          ``{kind: discharge, c_rate: C/10, duration: 30 min}``
``charge 2 A/m^2 to soc 0.5``          ``{kind: charge, current_density: 2 A/m^2, to_soc: 0.5}``
``rest 10 min``                        ``{kind: rest, duration: 10 min}``
``hold theta 0.9 for 30 min``          ``{kind: hold, theta: 0.9, duration: 30 min}``
``hold theta 0.9 to soc 0.6``          ``{kind: hold, theta: 0.9, to_soc: 0.6}``
=====================================  ===================================================

Keywords are case-insensitive; a string may end with ``in N steps`` (a mapping: ``time_steps:
N`` or ``dt: 30 s``) to override the protocol's time stepping for that step.

- Charge/discharge: constant current, uniform inward (charge) or outward (discharge) flux on
  the active surfaces, j = i/F. A C-rate C (h-1) changes the SOC by C per hour:
  j = (C/3600 s) c_max V_a/A_S; a current density i (A m-2) is given directly. Stop at a SOC
  (from the charge passed, exact) or after a time.
- Rest: zero flux for a time (θ relaxes towards uniform at constant SOC).
- Hold (potentiostatic): θ = theta on the active surfaces (Dirichlet) for a time, or until
  the SOC (∫θ dV / V_a) reaches ``to_soc``, which must lie strictly between the SOC at the
  start and ``theta`` (the SOC approaches theta).

SOC checks: where the SOC before a step is known when the case is read (it is after a C-rate
step and after a stop at a SOC; not after a current-density step or a hold for a time) a step
that cannot reach its stop is refused then (CaseError naming ``lithiation.steps`` and the step
index); otherwise when the step starts (``check_start``, CaseError, exit 2).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal, NoReturn

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PositiveInt,
    SerializerFunctionWrapHandler,
    Tag,
    TypeAdapter,
    ValidationError,
    model_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from solver.units import CurrentDensity, Time, to_si

SOC = Annotated[float, Field(ge=0, le=1)]

FORMS = (
    "'charge RATE to soc X', 'charge RATE for TIME', 'discharge RATE to soc X', "
    "'discharge RATE for TIME', 'rest TIME', 'hold theta X for TIME', 'hold theta X to soc Y' "
    "(RATE: '0.1C', 'C/10' or a current density such as '2 A/m^2'; TIME: '10 min'; optional "
    "suffix 'in N steps'), or a mapping {kind: charge|discharge|rest|hold, …}"
)
"""The allowed forms of a protocol step, quoted in every parse error."""

SOC_SLACK = 1e-12
"""A SOC that leaves [0, 1] by less than this is still accepted (rounding)."""


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


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _TimeStepping(_Frozen):
    """Optional per-step override of the protocol's time stepping (one of the two)."""

    dt: Annotated[Time, Field(gt=0)] | None = None
    time_steps: PositiveInt | None = None

    @model_validator(mode="after")
    def _one_stepping(self) -> _TimeStepping:
        if self.dt is not None and self.time_steps is not None:
            raise ValueError("give at most one of dt or time_steps")
        return self

    @model_serializer(mode="wrap")
    def _kind_first(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Dump as ``{kind: …, <keys given>}`` (case.resolved.yaml): no None entries."""
        data = handler(self)
        return {"kind": data.pop("kind")} | {k: v for k, v in data.items() if v is not None}

    @property
    def suffix(self) -> str:
        """The ``in N steps`` / ``dt …`` part of ``describe()``."""
        if self.time_steps is not None:
            return f" in {self.time_steps} steps"
        return f" (dt {self.dt:g} s)" if self.dt is not None else ""


class _CurrentStep(_TimeStepping):
    """Constant current: a C-rate or a current density; stop at a SOC or after a duration."""

    c_rate: CRate | None = None
    current_density: Annotated[CurrentDensity, Field(gt=0)] | None = None
    to_soc: SOC | None = None
    duration: Annotated[Time, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _rate_and_stop(self) -> _CurrentStep:
        if (self.c_rate is None) == (self.current_density is None):
            raise ValueError("give exactly one of c_rate or current_density")
        if (self.to_soc is None) == (self.duration is None):
            raise ValueError("give exactly one stop: to_soc or duration")
        return self

    @property
    def sign(self) -> int:
        """+1 for a charge (Li in), −1 for a discharge (Li out)."""
        return 1 if isinstance(self, ChargeStep) else -1

    def describe(self) -> str:
        """The step in the string grammar (SI values)."""
        kind = "charge" if self.sign > 0 else "discharge"
        rate = f"{self.c_rate:g}C" if self.c_rate is not None else f"{self.current_density:g} A/m^2"
        stop = f"to soc {self.to_soc:g}" if self.to_soc is not None else f"for {self.duration:g} s"
        return f"{kind} {rate} {stop}{self.suffix}"


class ChargeStep(_CurrentStep):
    """Lithiation at constant current (Li enters through the active surfaces)."""

    kind: Literal["charge"]


class DischargeStep(_CurrentStep):
    """Delithiation at constant current (Li leaves through the active surfaces)."""

    kind: Literal["discharge"]


class RestStep(_TimeStepping):
    """Open circuit: no flux for ``duration`` (s)."""

    kind: Literal["rest"]
    duration: Annotated[Time, Field(gt=0)]

    def describe(self) -> str:
        """The step in the string grammar (SI values)."""
        return f"rest {self.duration:g} s{self.suffix}"


class HoldStep(_TimeStepping):
    """Potentiostatic hold: θ = ``theta`` on the active surfaces; stop at a SOC or a time."""

    kind: Literal["hold"]
    theta: Annotated[float, Field(ge=0, le=1)]
    to_soc: SOC | None = None
    duration: Annotated[Time, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _stop(self) -> HoldStep:
        if (self.to_soc is None) == (self.duration is None):
            raise ValueError("give exactly one stop: to_soc or duration")
        return self

    def describe(self) -> str:
        """The step in the string grammar (SI values)."""
        stop = f"to soc {self.to_soc:g}" if self.to_soc is not None else f"for {self.duration:g} s"
        return f"hold theta {self.theta:g} {stop}{self.suffix}"


Step = ChargeStep | DischargeStep | RestStep | HoldStep
KINDS = ("charge", "discharge", "rest", "hold")

_STOP = r"(?:to\s+soc\s+(?P<soc>\S+)|for\s+(?P<time>.+?))"
_SUFFIX = r"(?:\s+in\s+(?P<n>\S+)\s+steps?)?"
_GRAMMAR = {
    "current": re.compile(
        rf"(?P<kind>charge|discharge)\s+(?P<rate>.+?)\s+{_STOP}{_SUFFIX}", re.IGNORECASE
    ),
    "rest": re.compile(rf"(?P<kind>rest)\s+(?:for\s+)?(?P<time>.+?){_SUFFIX}", re.IGNORECASE),
    "hold": re.compile(
        rf"(?P<kind>hold)\s+(?:theta|θ)\s*=?\s*(?P<theta>[^\s=]+)\s+{_STOP}{_SUFFIX}",
        re.IGNORECASE,
    ),
}


def _step_kind(value: Any) -> str | None:
    """Union tag of a step: its ``kind``."""
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return None if kind is None else str(kind)


_STEP_UNION = Annotated[
    Annotated[ChargeStep, Tag("charge")]
    | Annotated[DischargeStep, Tag("discharge")]
    | Annotated[RestStep, Tag("rest")]
    | Annotated[HoldStep, Tag("hold")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="unknown or missing kind; allowed: 'charge', 'discharge', 'rest', "
        "'hold'",
    ),
]
_STEP_ADAPTER: TypeAdapter[Step] = TypeAdapter(_STEP_UNION)


def _mapping_of(text: str) -> dict[str, Any]:
    """The mapping form of a step string; ValueError (allowed forms) if it does not parse."""
    stripped = " ".join(text.split())
    for name, pattern in _GRAMMAR.items():
        match = pattern.fullmatch(stripped)
        if match is None:
            continue
        g = match.groupdict()
        data: dict[str, Any] = {"kind": g["kind"].lower()}
        if name == "current":
            rate = g["rate"]
            if re.fullmatch(r"[0-9.eE+-]*\s*C(?:\s*/\s*[0-9.eE+-]+)?", rate):
                data["c_rate"] = rate
            else:
                try:
                    to_si(rate, "[current] / [length] ** 2", "2 A/m^2")
                except ValueError as exc:
                    raise ValueError(
                        f"cannot read the rate {rate!r}: not a C-rate ('0.1C', 'C/10') nor a "
                        f"current density ({exc}); allowed forms: {FORMS}"
                    ) from None
                data["current_density"] = rate
        if name == "hold":
            data["theta"] = g["theta"]
        if g.get("soc") is not None:
            data["to_soc"] = g["soc"]
        if g.get("time") is not None:
            data["duration"] = g["time"]
        if g.get("n") is not None:
            data["time_steps"] = g["n"]
        return data
    raise ValueError(f"cannot parse the step; allowed forms: {FORMS}")


def parse_step(value: Any) -> Any:
    """A step string → its validated model; mappings and models pass through unchanged.

    Errors in a string name the offending part and list the allowed forms (ValueError).
    """
    if not isinstance(value, str):
        return value
    data = _mapping_of(value)
    try:
        return _STEP_ADAPTER.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(k) for k in err['loc'][1:]) or 'step'}: "
            f"{err['msg'].removeprefix('Value error, ')}"
            + (f" (got {err['input']!r})" if isinstance(err.get("input"), str) else "")
            for err in exc.errors()
        )
        raise ValueError(f"{problems}; allowed forms: {FORMS}") from None


ProtocolStep = Annotated[_STEP_UNION, BeforeValidator(parse_step)]
"""One protocol step: a string in the grammar above or a mapping with ``kind``."""


def current_sign(step: Step) -> int:
    """+1 charge, −1 discharge, 0 rest and hold (the flux is not prescribed)."""
    return step.sign if isinstance(step, _CurrentStep) else 0


def check_start(step: Step, soc: float | None, theta_rate: float | None = None) -> float | None:
    """SOC (-) after ``step`` started at ``soc`` (None: unknown); ValueError if impossible.

    ``theta_rate`` (s-1): dSOC/dt of a current step given by a current density (known only
    with the mesh); a C-rate step knows its own (±C/3600 s).
    """
    if soc is None:
        return None
    if isinstance(step, RestStep):
        return soc
    if isinstance(step, HoldStep):
        if step.to_soc is None:
            return soc if step.theta == soc else None
        toward = (step.to_soc - soc) * (step.theta - soc)
        if not (toward > 0 and abs(step.to_soc - soc) < abs(step.theta - soc)):
            raise ValueError(
                f"the SOC is {soc:.6g} at its start and a hold at theta {step.theta:g} moves it "
                f"towards {step.theta:g}: to_soc must lie strictly between the two"
            )
        return step.to_soc
    kind = "charge" if step.sign > 0 else "discharge"
    if step.to_soc is not None:
        if (step.to_soc - soc) * step.sign <= 0:
            relation = "above" if step.sign > 0 else "below"
            raise ValueError(
                f"the SOC is {soc:.6g} at its start: a {kind} must stop at a SOC {relation} it"
            )
        return step.to_soc
    assert step.duration is not None
    if step.c_rate is not None:
        theta_rate = step.sign * step.c_rate / 3600.0
    if theta_rate is None:
        return None
    end = soc + theta_rate * step.duration
    if not -SOC_SLACK <= end <= 1 + SOC_SLACK:
        raise ValueError(
            f"the SOC is {soc:.6g} at its start: {step.duration:g} s of {kind} would take it to "
            f"{end:.6g}, outside 0…1"
        )
    return min(max(end, 0.0), 1.0)


class ProtocolLithiation(_Frozen):
    """A list of lithiation steps run in order (model ``transport-small`` or ``finite``).

    - ``soc_start``: uniform θ at t = 0.
    - ``steps``: the protocol (module docstring: strings or mappings).
    - ``dt`` (s): time step of every step (the last one of each step shortened to end exactly
      at its stop time), or ``steps_per_step``: that many equal time steps per step. A step
      may override either (``in N steps``; mapping keys ``dt``, ``time_steps``). A hold that
      stops at a SOC has no known duration: it needs a ``dt``.
    With ``solver.adaptive`` the first Δt of every step is the one above (``dt``, or its
    duration / steps); the controller then grows and cuts it within the step
    (solver/stepping.py).
    """

    mode: Literal["protocol"]
    soc_start: SOC = 0.0
    steps: list[ProtocolStep] = Field(min_length=1)
    dt: Annotated[Time, Field(gt=0)] | None = None
    steps_per_step: PositiveInt | None = None

    @model_validator(mode="after")
    def _check_steps(self) -> ProtocolLithiation:
        if self.dt is not None and self.steps_per_step is not None:
            raise ValueError("give at most one of dt or steps_per_step")
        soc: float | None = self.soc_start
        for index, step in enumerate(self.steps):
            dt, count = self.stepping(step)
            if isinstance(step, HoldStep) and step.to_soc is not None and dt is None:
                _step_error(
                    index,
                    step,
                    "a hold that stops at a SOC has no known duration: give lithiation.dt or "
                    "the step's own dt",
                )
            if dt is None and count is None:
                _step_error(
                    index,
                    step,
                    "no time stepping: give lithiation.dt or lithiation.steps_per_step, or the "
                    "step's own ('in N steps'; mapping keys dt, time_steps)",
                )
            try:
                soc = check_start(step, soc)
            except ValueError as exc:
                _step_error(index, step, str(exc))
        return self

    def stepping(self, step: Step) -> tuple[float | None, int | None]:
        """(Δt (s), number of steps) of ``step``: its own override, else the protocol's."""
        if step.dt is not None or step.time_steps is not None:
            return step.dt, step.time_steps
        return self.dt, self.steps_per_step

    def describe(self) -> list[str]:
        """Every step in the string grammar (SI values)."""
        return [step.describe() for step in self.steps]


def _step_error(index: int, step: Step, message: str) -> NoReturn:
    """Raise a validation error located at ``steps.<index>`` (the step's text as input)."""
    error = PydanticCustomError("protocol_step", "{message}", {"message": message})
    raise ValidationError.from_exception_data(
        "ProtocolLithiation",
        [InitErrorDetails(type=error, loc=("steps", index), input=step.describe())],
    )


def one_step_protocol(
    soc_start: float, soc_end: float, c_rate: float, steps: int | None, dt: float | None
) -> ProtocolLithiation:
    """The protocol of a galvanostatic lithiation: one charge (or discharge) to ``soc_end``."""
    kind = "charge" if soc_end > soc_start else "discharge"
    step = {"kind": kind, "c_rate": c_rate, "to_soc": soc_end}
    return ProtocolLithiation.model_validate(
        {
            "mode": "protocol",
            "soc_start": soc_start,
            "steps": [step],
            "dt": dt,
            "steps_per_step": steps,
        }
    )


def duration_of(step: Step, soc: float, theta_rate: float) -> float | None:
    """Duration (s) of ``step`` started at ``soc`` with dSOC/dt ``theta_rate`` (s-1).

    None for a hold that stops at a SOC (found by event detection while it runs).
    """
    if isinstance(step, _CurrentStep) and step.to_soc is not None:
        if step.c_rate is not None:  # the arithmetic of GalvanostaticLithiation.duration
            return abs(step.to_soc - soc) / step.c_rate * 3600.0
        return abs(step.to_soc - soc) / abs(theta_rate)
    if isinstance(step, HoldStep) and step.to_soc is not None:
        return None
    assert step.duration is not None
    return float(step.duration)


def c_rate_theta_rate(step: Step) -> float | None:
    """dSOC/dt (s-1) of a C-rate step (±C/3600 s); None for the other steps."""
    if isinstance(step, _CurrentStep) and step.c_rate is not None:
        return math.copysign(step.c_rate / 3600.0, step.sign)
    return None
