"""Time steps of the ``transport-small`` loop: fixed or adaptive, with cut-backs.

Fixed (no ``solver.adaptive``): the times of ``lithiation.times()``; a failed solve fails the
run. Adaptive (``solver.adaptive``, see solver.case.Adaptive): t_{k+1} = t_k + Δt with

    Δt ← min(grow Δt, dt_max)  after an easy step (Newton iterations ≤ easy_newton, no cut-back)
    Δt ← cut Δt                after a failed solve (retried from the last accepted state)

and the last step shortened to end exactly at the duration (soc_end); more than
``max_cutbacks`` cut-backs in one step raise SolverError (exit 3).
"""

from __future__ import annotations

import logging

from solver.case import Adaptive, GalvanostaticLithiation
from solver.errors import SolverError

log = logging.getLogger("ssbmech")

END_RTOL = 1e-9
"""A step that would end within END_RTOL·duration of the end is stretched to the end."""


class StepControl:
    """Accepted step ``step`` at time ``time`` (s); ``next_time()`` proposes the next one."""

    def __init__(
        self,
        lithiation: GalvanostaticLithiation,
        adaptive: Adaptive | None,
        step: int = 0,
        time: float = 0.0,
        dt: float | None = None,
    ) -> None:
        self.duration = lithiation.duration
        self.adaptive = adaptive
        self._times = lithiation.times()
        self.step, self.time = step, time
        first = self._times[1] - self._times[0]
        self.dt = first if dt is None else dt
        """Δt (s) of the next attempt (adaptive mode)."""
        self.cutbacks = 0
        """Cut-backs in the current step."""

    @property
    def done(self) -> bool:
        """The duration is reached."""
        if self.adaptive is None:
            return self.step >= len(self._times) - 1
        return self.time >= self.duration

    @property
    def total_steps(self) -> int | None:
        """Number of steps of a fixed schedule (None when adaptive)."""
        return None if self.adaptive is not None else len(self._times) - 1

    def next_time(self) -> float:
        """End time (s) of the next attempt."""
        if self.adaptive is None:
            return self._times[self.step + 1]
        t = self.time + self.dt
        return self.duration if t >= self.duration * (1 - END_RTOL) else t

    def accept(self, newton_iterations: int) -> None:
        """The attempt converged: advance, and grow Δt after an easy step."""
        self.time, self.step = self.next_time(), self.step + 1
        a = self.adaptive
        if a is not None and self.cutbacks == 0 and newton_iterations <= a.easy_newton:
            self.dt = self.dt * a.grow if a.dt_max is None else min(self.dt * a.grow, a.dt_max)
        self.cutbacks = 0

    def cut_back(self, error: SolverError) -> None:
        """The attempt failed: cut Δt, or re-raise ``error`` when no cut-back is left."""
        a = self.adaptive
        if a is None:
            raise error
        if self.cutbacks >= a.max_cutbacks:
            raise SolverError(
                f"gave up after {a.max_cutbacks} cut-backs at t = {self.time:g} s (step "
                f"{self.step + 1}, last Δt {self.dt:g} s): {error}"
            ) from error
        self.cutbacks += 1
        self.dt *= a.cut
        log.info(
            "step %d: cut-back %d/%d, Δt → %.4g s (%s)",
            self.step + 1,
            self.cutbacks,
            a.max_cutbacks,
            self.dt,
            error,
        )
