"""SLURM batch scripts: one run (``ssbmech slurm``) or a job array of runs (sweeps).

A script is bash rendered from one template: ``#SBATCH`` resources, the ``ssbmech run``
arguments (a ``case`` statement on ``SLURM_ARRAY_TASK_ID`` for arrays), then one launch line
``"${launch[@]}" <ssbmech> "${args[@]}"`` with ``launch=(srun --mpi=pmix)``. ``<ssbmech>`` is
either ``apptainer exec --bind … IMAGE.sif ssbmech`` (module-free: the image brings MPI, and
srun's PMIx starts the ranks) or the ``ssbmech`` of the native install that rendered the
script. All paths are made absolute, so the script runs from any directory.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from solver import __version__
from solver.errors import CaseError

if TYPE_CHECKING:  # solver.case imports the mesh generators (DOLFINx): not for `render`
    from solver.case import Case

LAUNCH_LINE = "launch=(srun --mpi=pmix)"
"""The line that starts the ranks; edit it (e.g. ``--mpi=pmi2``) where PMIx is missing."""

_TIME = re.compile(r"(\d+-)?\d{1,3}:\d{2}:\d{2}")


class _Script(Template):
    delimiter = "@@"  # bash uses $, %, # and braces; "@@" never occurs in the body


_TEMPLATE = _Script(
    """#!/bin/bash
# @@title
# Written by ssbmech @@version.
@@sbatch
set -euo pipefail
export OMP_NUM_THREADS=1  # one MPI rank per core, no threaded BLAS on top
@@select
echo "ssbmech: job ${SLURM_JOB_ID:-?}${SLURM_ARRAY_TASK_ID:+ task $SLURM_ARRAY_TASK_ID}:" \\
  "${SLURM_NTASKS:-?} ranks on ${SLURM_JOB_NUM_NODES:-?} node(s): ssbmech ${args[*]}"
# At the time limit SLURM sends SIGTERM to every rank: ssbmech then marks the run
# `interrupted` in summary.json, keeps history.csv and the fields so far, and exits 143.
@@launch_note
@@launch_line
"${launch[@]}" @@ssbmech "${args[@]}"
"""
)


@dataclass(frozen=True)
class Resources:
    """What each run asks SLURM for: nodes, MPI ranks per node, wall-time limit, partition."""

    nodes: int
    ntasks_per_node: int
    time: str
    partition: str | None = None

    def __post_init__(self) -> None:
        if self.nodes < 1 or self.ntasks_per_node < 1:
            raise CaseError(
                f"--nodes ({self.nodes}) and --ntasks-per-node ({self.ntasks_per_node}) must "
                "be at least 1"
            )
        if not _TIME.fullmatch(self.time):
            raise CaseError(f"--time {self.time!r}: use HH:MM:SS or D-HH:MM:SS (e.g. 02:00:00)")

    def sbatch_lines(self) -> list[str]:
        """The ``#SBATCH`` lines for these resources."""
        lines = [
            f"#SBATCH --nodes={self.nodes}",
            f"#SBATCH --ntasks-per-node={self.ntasks_per_node}",
            "#SBATCH --cpus-per-task=1",
            f"#SBATCH --time={self.time}",
        ]
        if self.partition:
            lines.append(f"#SBATCH --partition={self.partition}")
        return lines


@dataclass(frozen=True)
class RunSpec:
    """One run of a script: case file, ``--set`` overrides, run directory."""

    case: Path
    out: Path
    overrides: tuple[str, ...] = ()
    force: bool = False
    """Replace an existing (failed or interrupted) run directory (sweeps rerun such cases)."""

    def args(self) -> str:
        """``ssbmech`` arguments of this run as a quoted bash word list (absolute paths)."""
        words = ["run", str(self.case.resolve()), "--out", str(self.out.resolve())]
        words += ["--force"] if self.force else []
        for item in self.overrides:
            words += ["--set", item]
        return " ".join(shlex.quote(w) for w in words)


def run_script(run: RunSpec, resources: Resources, container: Path | None, job_name: str) -> str:
    """Batch script for one run; its SLURM log is written next to the run directory."""
    out = run.out.resolve()
    return _render(
        title=f"ssbmech run of {run.case.name} into {out}",
        sbatch=[
            f"#SBATCH --job-name={job_name}",
            *resources.sbatch_lines(),
            f"#SBATCH --output={out}.%j.log",
        ],
        select=f"args=({run.args()})",
        runs=[run],
        container=container,
    )


def sweep_array_script(
    runs: Sequence[RunSpec],
    resources: Resources,
    log_dir: Path,
    container: Path | None = None,
    job_name: str = "ssbmech-sweep",
    max_parallel: int | None = None,
) -> str:
    """One SLURM job-array script: array task i runs ``runs[i]`` with ``resources`` each.

    Logs go to ``log_dir/<job name>_<array job id>_<task>.log`` (``log_dir`` must exist when
    the script is submitted); ``max_parallel`` caps the tasks running at once (``%N``).
    """
    if not runs:
        raise CaseError("a sweep needs at least one run")
    throttle = f"%{max_parallel}" if max_parallel else ""
    cases = [f"  {i}) args=({run.args()}) ;;" for i, run in enumerate(runs)]
    select = "\n".join(
        [
            'case "${SLURM_ARRAY_TASK_ID:?not set: submit this script with sbatch}" in',
            *cases,
            '  *) echo "ssbmech: no run for array task $SLURM_ARRAY_TASK_ID" >&2; exit 2 ;;',
            "esac",
        ]
    )
    return _render(
        title=f"ssbmech sweep: {len(runs)} runs as a SLURM job array",
        sbatch=[
            f"#SBATCH --job-name={job_name}",
            *resources.sbatch_lines(),
            f"#SBATCH --array=0-{len(runs) - 1}{throttle}",
            f"#SBATCH --output={log_dir.resolve()}/%x_%A_%a.log",
        ],
        select=select,
        runs=runs,
        container=container,
    )


def _render(
    title: str, sbatch: list[str], select: str, runs: Sequence[RunSpec], container: Path | None
) -> str:
    if container is None:
        exe = Path(sys.executable).parent / "ssbmech"
        if not exe.is_file():
            raise CaseError(f"no ssbmech next to {sys.executable}: install it or use --container")
        note = "# native install: load here the MPI/PMIx modules your site's srun needs"
        ssbmech = shlex.quote(str(exe))
    else:
        image = container.resolve()
        if not image.is_file():
            raise CaseError(f"--container {container}: no such image file (build the .sif first)")
        note = (
            "# container: the image brings ssbmech and OpenMPI 4.1; srun starts the ranks\n"
            "# through PMIx (the host's SLURM needs PMIx support; see containers/README.md)"
        )
        ssbmech = " ".join(
            shlex.quote(w)
            for w in ["apptainer", "exec", "--bind", ",".join(_bind_dirs(runs)), str(image)]
        )
        ssbmech += " ssbmech"
    return _TEMPLATE.substitute(
        title=title,
        version=__version__,
        sbatch="\n".join(sbatch),
        select=select,
        launch_note=note,
        launch_line=LAUNCH_LINE,
        ssbmech=ssbmech,
    )


def _bind_dirs(runs: Sequence[RunSpec]) -> list[str]:
    """Host directories the container must see: those of the case files and run directories."""
    dirs = sorted({r.case.resolve().parent for r in runs} | {r.out.resolve().parent for r in runs})
    kept: list[Path] = []
    for d in dirs:  # sorted: a parent comes before its children
        if not any(d.is_relative_to(k) for k in kept):
            kept.append(d)
    return [str(d) for d in kept]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``ssbmech slurm``."""
    parser.add_argument("--nodes", type=int, default=1, help="nodes (default 1)")
    parser.add_argument("--ntasks-per-node", type=int, required=True, help="MPI ranks per node")
    parser.add_argument("--time", required=True, help="wall-time limit, HH:MM:SS or D-HH:MM:SS")
    parser.add_argument("--partition", help="SLURM partition")
    parser.add_argument("--container", type=Path, help="run in this Apptainer image (.sif)")
    parser.add_argument("--out", type=Path, help="run directory (default runs/<case name>)")
    parser.add_argument("--script", type=Path, help="sbatch script (default <run dir>.sbatch)")


def slurm_command(case: Case, args: argparse.Namespace) -> int:
    """``ssbmech slurm``: write the batch script of a validated case and say how to submit it."""
    resources = Resources(args.nodes, args.ntasks_per_node, args.time, args.partition)
    out = args.out or Path("runs") / case.name
    run = RunSpec(args.case, out, tuple(args.overrides))
    text = run_script(run, resources, args.container, job_name=f"ssbmech-{case.name}")
    script = args.script or out.with_name(out.name + ".sbatch")
    for d in (script.parent, out.resolve().parent):  # SLURM writes its log next to the run
        d.mkdir(parents=True, exist_ok=True)
    script.write_text(text)
    script.chmod(0o755)
    ranks = resources.nodes * resources.ntasks_per_node
    print(f"wrote {script}: {case.name} on {ranks} MPI ranks, limit {resources.time}")
    print(f"submit with:  sbatch {script}")
    return 0
