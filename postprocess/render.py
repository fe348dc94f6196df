"""``ssbmech render``: figures and report of one run directory into ``RUN_DIR/figures/``.

Writes ``max_principal_clip.png`` (σ1 half-RVE map, last step), ``history.png`` and
``report.html``. Reads only run-directory files; must run in a process that has not imported
DOLFINx (VTK crashes otherwise) — ``python -m postprocess.render RUN_DIR`` or the CLI.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from postprocess.reader import RenderError, read_run

__all__ = ["RenderError", "render_run"]

log = logging.getLogger("ssbmech")

FIGURES_DIR = "figures"
MAP_PNG = "max_principal_clip.png"
HISTORY_PNG = "history.png"
REPORT_HTML = "report.html"


def render_run(run_dir: Path) -> list[Path]:
    """Render ``run_dir`` and return the written paths (map, history plot, report)."""
    if "dolfinx" in sys.modules:
        raise RenderError(
            "dolfinx is imported in this process and would crash VTK; render in a fresh process "
            f"(python -m postprocess.render {run_dir})"
        )
    from postprocess.maps import max_principal_map
    from postprocess.plots import history_plot
    from postprocess.report import write_report

    start = time.perf_counter()
    run = read_run(Path(run_dir))
    out = run.run_dir / FIGURES_DIR
    out.mkdir(parents=True, exist_ok=True)
    figures = [max_principal_map(run, out / MAP_PNG)]
    if run.history:
        figures.append(history_plot(run, out / HISTORY_PNG))
    else:
        log.warning("%s: no history.csv rows; skipping %s", run.run_dir, HISTORY_PNG)
    report = write_report(run, figures, out / REPORT_HTML)
    log.info("rendered %s in %.1f s", run.run_dir, time.perf_counter() - start)
    return [*figures, report]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: render RUN_DIR; exit 2 with a message on stderr for bad input."""
    parser = argparse.ArgumentParser(prog="python -m postprocess.render", description=__doc__)
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        paths = render_run(args.run_dir)
    except RenderError as exc:
        print(f"render: error: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        log.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
