"""Arguments and dispatch of the postprocess subcommands of ``ssbmech`` (render, compare, view).

Imports only argparse at module level: ``solver.cli`` builds its parser with it, and the
rendering modules (PyVista, VTK) are imported when a command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from postprocess.errors import RenderError

__all__ = [
    "RenderError",
    "add_postprocess_commands",
    "add_render_arguments",
    "options_from",
    "run_postprocess_command",
]


def add_postprocess_commands(sub: Any) -> None:
    """Add ``render``, ``compare`` and ``view`` to the ``ssbmech`` subparsers ``sub``."""
    add_render_arguments(sub.add_parser("render", help="maps, plots, report.html into figures/"))
    p = sub.add_parser("compare", help="overlay histories, maps side by side (shared limits)")
    p.add_argument("run_dirs", metavar="RUN_DIR", type=Path, nargs="+")
    p.add_argument("--out", type=Path, default=Path("compare"), help="default ./compare")
    p.add_argument("--field", default="max_principal")
    p.add_argument("--view", default="clip")
    p = sub.add_parser("view", help="interactive window (or trame web page) on a run")
    p.add_argument("run_dir", metavar="RUN_DIR", type=Path)
    p.add_argument("--field", default="max_principal")
    p.add_argument("--view", default="clip")


def add_render_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``render`` arguments (shared by ``ssbmech render`` and ``python -m``)."""
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path)
    parser.add_argument("--field", action="append", help="field to map (repeatable)")
    parser.add_argument("--view", action="append", help="view to draw (repeatable)")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--step", type=int, help="history row (default: last)")
    when.add_argument("--soc", type=float, help="the step nearest this SOC")
    parser.add_argument("--animate", action="store_true", help="GIF over all written steps")


def options_from(args: argparse.Namespace) -> Any:
    """RenderOptions from parsed ``render`` arguments."""
    from postprocess.render import RenderOptions

    return RenderOptions(
        fields=tuple(args.field) if args.field else None,
        views=tuple(args.view) if args.view else None,
        step=args.step,
        soc=args.soc,
        animate=args.animate,
    )


def run_postprocess_command(args: argparse.Namespace) -> list[Path]:
    """Run the parsed command; return the files written (none for ``view``)."""
    if args.command == "render":
        from postprocess.render import render_run

        return render_run(args.run_dir, options_from(args))
    if args.command == "compare":
        from postprocess.compare import compare_runs

        return compare_runs(args.run_dirs, args.out, args.field, args.view)
    from postprocess.interactive import open_view

    open_view(args.run_dir, args.field, args.view)
    return []
