"""Global extremes with their location, and the running extremes of a run (summary.json).

A candidate is (value, where) on one rank, ``where`` a JSON-able dict (material or interface,
particle id, coordinates in m); ``global_extremes`` picks the global maximum (keys starting
``min_``: minimum) over all ranks with one ``allgather``, so the coordinates are those of the
global extreme, not of rank 0's. ``RunExtremes`` keeps, per key, the extreme over all steps
with the step, SOC and time where it occurred.
"""

from __future__ import annotations

from typing import Any

from mpi4py import MPI

Candidate = tuple[float, dict[str, Any]]


def is_minimum(key: str) -> bool:
    """Keys named ``min_…`` are minimised, all others maximised."""
    return key.startswith("min_")


def _better(key: str, a: float, b: float) -> bool:
    return a < b if is_minimum(key) else a > b


def global_extremes(comm: MPI.Comm, local: dict[str, Candidate | None]) -> dict[str, Candidate]:
    """Per key, the best candidate over all ranks (ranks without cells pass None)."""
    gathered = comm.allgather(local)
    out: dict[str, Candidate] = {}
    for part in gathered:
        for key, cand in part.items():
            if cand is not None and (key not in out or _better(key, cand[0], out[key][0])):
                out[key] = cand
    return out


class RunExtremes:
    """Extremes over the steps of a run: value, where, and when (step, SOC, time)."""

    def __init__(self, best: dict[str, dict[str, Any]] | None = None) -> None:
        """Start empty, or from ``best`` (an earlier :meth:`as_dict`, e.g. from a checkpoint)."""
        self._best: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (best or {}).items()}

    def update(self, candidates: dict[str, Candidate], step: int, soc: float, t: float) -> None:
        """Keep each key's candidate if it beats the previous steps (first occurrence wins)."""
        for key, (value, where) in candidates.items():
            old = self._best.get(key)
            if old is None or _better(key, value, old["value"]):
                self._best[key] = {"value": value, **where, "step": step, "soc": soc, "time_s": t}

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """{key: {value, where…, step, soc, time_s}} for summary.json."""
        return {k: dict(v) for k, v in self._best.items()}
