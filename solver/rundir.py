"""Run-directory life cycle: refuse to overwrite, lock while a run writes, errors on all ranks.

One run at a time per directory: rank 0 creates ``RUN_DIR/.lock`` exclusively (``O_EXCL``)
with its host name and PID and removes it when the run ends, whatever the outcome. A second
``ssbmech run --out SAME`` (with or without ``--force``) finds the lock and stops with exit
2; a lock left by a process that no longer exists (killed with SIGKILL) is reported as stale,
with what to do.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mpi4py import MPI

from solver.errors import CaseError

LOCK_NAME = ".lock"


@contextmanager
def locked_run_dir(comm: MPI.Comm, path: Path, force: bool, resume: bool = False) -> Iterator[Path]:
    """Create ``path`` (rank 0), hold its lock for the ``with`` block, yield ``path``.

    An existing directory needs ``force``; then its contents are removed (after the lock is
    taken), so nothing stale looks current. ``resume`` (a restart) locks an existing run
    directory and keeps its contents. Errors are raised on every rank.
    """
    error = None
    if comm.rank == 0:
        try:
            if resume:
                _lock_existing(path)
            else:
                _create_and_lock(path, force)
        except CaseError as exc:
            error = str(exc)
    error = comm.bcast(error, root=0)
    if error:
        raise CaseError(error)
    try:
        yield path
    finally:
        if comm.rank == 0:
            (path / LOCK_NAME).unlink(missing_ok=True)


def _lock_existing(path: Path) -> None:
    if not path.is_dir():
        raise CaseError(f"run directory {path} does not exist: nothing to restart")
    if (path / LOCK_NAME).exists():
        raise CaseError(_lock_held_message(path))
    _take_lock(path / LOCK_NAME, path)


def _take_lock(lock: Path, path: Path) -> None:
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise CaseError(_lock_held_message(path)) from None
    with os.fdopen(fd, "w") as f:
        json.dump({"host": socket.gethostname(), "pid": os.getpid()}, f)


def _create_and_lock(path: Path, force: bool) -> None:
    exists = (
        f"run directory {path} already exists; choose another --out or pass --force to replace it"
    )
    if (path / LOCK_NAME).exists():
        raise CaseError(_lock_held_message(path))
    if path.exists() and not force:
        raise CaseError(exists)
    try:
        path.mkdir(parents=True, exist_ok=force)
    except FileExistsError:  # another run created it since the check above
        raise CaseError(exists) from None
    _take_lock(path / LOCK_NAME, path)
    if force:
        for entry in path.iterdir():
            if entry.name == LOCK_NAME:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def _lock_held_message(path: Path) -> str:
    """Say who holds the lock of ``path`` and whether that process still exists."""
    lock = path / LOCK_NAME
    try:
        owner = json.loads(lock.read_text())
        host, pid = str(owner["host"]), int(owner["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"run directory {path} is locked by another run ({lock} exists)"
    if host == socket.gethostname() and not _process_exists(pid):
        return (
            f"run directory {path} has a stale lock: process {pid} on {host} that ran there no "
            f"longer exists (killed?), so its results may be incomplete (see summary.json). "
            f"Remove {lock} and pass --force to replace the directory (or --restart to resume "
            f"from its checkpoint), or choose another --out"
        )
    return (
        f"run directory {path} is in use by process {pid} on {host}; wait for it to end or "
        f"choose another --out (if that run is gone, remove {lock})"
    )


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
