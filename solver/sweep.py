"""Parameter sweeps: one sweep file → many cases, run one after another → ``sweep.csv``.

Sweep file (YAML)::

    base: ../tiny_rve.yaml            # case file, relative to the sweep file
    set: {lithiation.steps: 1}        # overrides applied to every case (optional)
    grid:                             # cartesian product of values per key path …
      loading.stack_pressure: [3 MPa, 50 MPa]
    # cases: [{loading.stack_pressure: 3 MPa}, …]   # … or an explicit list of overrides
    outputs: [max_principal_Pa_Li6PS5Cl, failure_probability_Li6PS5Cl]
    plots:                            # figures drawn after the runs (optional)
      - {file: sigma1.png, x: loading.stack_pressure, y: [max_principal_Pa_Li6PS5Cl]}

Keys are ``--set`` key paths, values YAML. Each case is named from its override values
(or by a ``name`` override in a case entry),
runs in its own subprocess (``ssbmech run``, under ``mpirun -n N`` with ``--np N``) so it
starts with a clean MPI/PETSc state, into ``OUT/<case name>`` with its log in
``OUT/logs/<case name>.log``. A case whose run directory already says ``complete`` is not run
again. A failing case is reported (status ``failed`` and the error) and the sweep goes on.
``OUT/sweep.csv`` (rewritten after every case) has one row per case: ``case``, the override
values, the outputs (from summary.json ``final``, else the ``value`` of ``extremes``, else a
top-level number such as ``dofs``),
``status`` and ``error``. ``plots`` are drawn by ``ssbmech sweep`` into ``OUT/<file>``
(postprocess/sweep_plot.py: ``x`` and ``y`` columns of sweep.csv, optional ``series`` column,
``log`` axes and a ``reference`` line; ``history: true`` plots each case's history.csv
instead), also when some cases failed; a rerun only redraws them. Clusters: a SLURM job
array over the same cases (solver/slurm.py).
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from solver.errors import CaseError
from solver.slurm import Resources, RunSpec, sweep_array_script

log = logging.getLogger("ssbmech")

KeyPath = str
Overrides = dict[KeyPath, Any]


class SweepPlot(BaseModel):
    """One figure of a sweep: y columns against x (see postprocess/sweep_plot.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    file: str = Field(pattern=r"^[A-Za-z0-9_.-]+\.png$")
    x: str
    y: list[str] = Field(min_length=1)
    series: str | None = None
    history: bool = False
    log: list[Literal["x", "y"]] = Field(default_factory=list)
    reference: float | None = None

    @model_validator(mode="after")
    def _series_needs_table(self) -> SweepPlot:
        if self.history and self.series is not None:
            raise ValueError(
                "'series' is for sweep.csv plots; history plots draw one line per case"
            )
        return self


class SweepSpec(BaseModel):
    """A validated sweep file (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    base: Path
    fixed: Overrides = Field(default_factory=dict, alias="set")
    grid: dict[KeyPath, list[Any]] = Field(default_factory=dict)
    cases: list[Overrides] = Field(default_factory=list)
    outputs: list[str] = Field(min_length=1)
    plots: list[SweepPlot] = Field(default_factory=list)

    @model_validator(mode="after")
    def _grid_or_cases(self) -> SweepSpec:
        if bool(self.grid) == bool(self.cases):
            raise ValueError("give either 'grid' (cartesian product) or 'cases' (a list)")
        if any(len(values) == 0 for values in self.grid.values()):
            raise ValueError("every grid key needs at least one value")
        return self

    def expand(self) -> list[Overrides]:
        """The overrides of each case: the grid's cartesian product or the case list."""
        if self.cases:
            return [dict(c) for c in self.cases]
        keys = list(self.grid)
        return [
            dict(zip(keys, combo, strict=True)) for combo in itertools.product(*self.grid.values())
        ]


@dataclass(frozen=True)
class SweepCase:
    """One expanded case: its name, overrides and run directory."""

    name: str
    overrides: Overrides
    run_dir: Path


def load_sweep(path: Path) -> SweepSpec:
    """Read and validate a sweep file; the base case path becomes absolute.

    Raises CaseError naming the file and the key.
    """
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise CaseError(f"{path}: no such sweep file") from None
    except yaml.YAMLError as exc:
        raise CaseError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise CaseError(f"{path}: a sweep file is a mapping (base, grid or cases, outputs)")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        allowed = ", ".join(sorted(f.alias or k for k, f in SweepSpec.model_fields.items()))
        lines = []
        for err in exc.errors():
            where = ".".join(str(k) for k in err["loc"]) or "(top level)"
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = f"unknown key (allowed: {allowed})"
            elif err["type"] == "missing":
                message = "required key is missing"
            lines.append(f"{path}: {where}: {message}")
        raise CaseError("\n".join(lines)) from None
    base = (path.parent / spec.base).resolve()
    if not base.is_file():
        raise CaseError(f"{path}: base: no such case file {base}")
    return spec.model_copy(update={"base": base})


def _slug(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return re.sub(r"[^A-Za-z0-9_.-]+", "", text.replace(" ", "")) or "x"


def case_name(overrides: Overrides) -> str:
    """``<last key segment>-<value>`` joined by ``_`` (the full key path if segments clash).

    A ``name`` override is the name itself.
    """
    if "name" in overrides:
        return _slug(overrides["name"])
    last = [k.split(".")[-1] for k in overrides]
    labels = last if len(set(last)) == len(last) else list(overrides)
    return "_".join(
        f"{label}-{_slug(v)}" for label, v in zip(labels, overrides.values(), strict=True)
    )


def _set_args(overrides: Overrides) -> list[str]:
    """``--set key=value`` arguments; values written as JSON, which YAML reads back."""
    return [a for k, v in overrides.items() for a in ("--set", f"{k}={json.dumps(v)}")]


def _child_env() -> dict[str, str]:
    """The environment without an MPI launcher's per-process variables (keeps OMPI_MCA_…)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PMIX_", "PMI_", "OMPI_")) or k.startswith(("OMPI_ALLOW", "OMPI_MCA"))
    }


def _summary(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((run_dir / "summary.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _output(summary: dict[str, Any], key: str) -> Any:
    if key in summary.get("final", {}):
        return summary["final"][key]
    if key in summary.get("extremes", {}):
        return summary["extremes"][key]["value"]
    value = summary.get(key, "")
    return value if isinstance(value, int | float | str) else ""


def run_one(case: SweepCase, base: Path, fixed: Overrides, ranks: int, log_dir: Path) -> str:
    """Run ``case`` in a subprocess unless already complete; return '' or the error."""
    if _summary(case.run_dir).get("status") == "complete":
        log.info("%s: skipped (run directory complete)", case.name)
        return ""
    cmd = [sys.executable, "-m", "solver.cli", "run", str(base), "--out", str(case.run_dir)]
    cmd += ["--force", *_set_args({**fixed, **case.overrides, "name": case.name})]
    if ranks > 1:
        cmd = ["mpirun", "-n", str(ranks), *cmd]
    log.info("%s: running", case.name)
    log_path = log_dir / f"{case.name}.log"
    with log_path.open("w") as out:
        rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=_child_env()).returncode
    if rc == 0:
        return ""
    lines = [ln for ln in log_path.read_text().splitlines() if ln.strip()]
    error = _summary(case.run_dir).get("error") or (lines[-1] if lines else "")
    log.warning("%s: failed (exit %d): %s (log %s)", case.name, rc, error, log_path)
    return f"exit {rc}: {error}"


def sweep_dir(path: Path, out: Path | None) -> Path:
    """The sweep directory: ``out``, by default ``runs/<sweep file name>``."""
    return out or Path("runs") / path.stem


def run_sweep(path: Path, out: Path | None, ranks: int = 1) -> int:
    """Run every case of the sweep file ``path`` into ``out``; exit code 0, or 3 if any failed."""
    spec = load_sweep(path)
    out = sweep_dir(path, out)
    log_dir = out / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    cases = [SweepCase(case_name(o), o, out / case_name(o)) for o in spec.expand()]
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        raise CaseError(f"{path}: two cases get the same name; make the override values differ")
    keys = list(dict.fromkeys(k for c in cases for k in c.overrides if k != "name"))
    columns = ["case", *keys, *spec.outputs, "status", "error"]
    rows: list[dict[str, Any]] = []
    for case in cases:
        error = run_one(case, spec.base, spec.fixed, ranks, log_dir)
        summary = _summary(case.run_dir)
        status = "complete" if not error and summary.get("status") == "complete" else "failed"
        rows.append(
            {
                "case": case.name,
                **{k: case.overrides.get(k, "") for k in keys},
                **{k: _output(summary, k) if status == "complete" else "" for k in spec.outputs},
                "status": status,
                "error": error,
            }
        )
        _write_csv(out / "sweep.csv", columns, rows)
    failed = [r["case"] for r in rows if r["status"] != "complete"]
    log.info("sweep: %d case(s), %d failed; %s", len(rows), len(failed), out / "sweep.csv")
    return 3 if failed else 0


def write_slurm_array(
    path: Path, out: Path | None, resources: Resources, container: Path | None = None
) -> Path:
    """Write ``OUT/sweep.sbatch``: one SLURM job-array task per case not yet complete.

    After the array job has run, ``ssbmech sweep SWEEP`` (no ``--slurm``) finds every case
    complete, skips them and writes ``sweep.csv``; failed tasks are rerun there or by
    resubmitting the regenerated script.
    """
    spec = load_sweep(path)
    out = out or Path("runs") / path.stem
    log_dir = out / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    for overrides in spec.expand():
        name = case_name(overrides)
        run_dir = out / name
        if _summary(run_dir).get("status") == "complete":
            continue
        sets = _set_args({**spec.fixed, **overrides, "name": name})[1::2]
        runs.append(RunSpec(spec.base, run_dir, tuple(sets), force=True))
    if not runs:
        raise CaseError(f"{path}: every case in {out} is complete; nothing to submit")
    script = out / "sweep.sbatch"
    text = sweep_array_script(runs, resources, log_dir, container, job_name=f"ssbmech-{path.stem}")
    script.write_text(text)
    script.chmod(0o755)
    log.info("wrote %s: %d array task(s); submit with:  sbatch %s", script, len(runs), script)
    log.info("then collect sweep.csv with:  ssbmech sweep %s --out %s", path, out)
    return script


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
