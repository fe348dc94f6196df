"""Rendering of a real tiny run: PNG pixels, history plot, report HTML, missing-file errors.

Rendering runs in a subprocess: this pytest process imports DOLFINx elsewhere, and VTK crashes
in a process that did.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from tests.conftest import ROOT, clean_env, ssbmech

MAP_SIZE = (1200, 900)  # width, height (px)
HEADINGS = {"Run", "Final values per material", "Timings", "Versions", "Figures"}


def _render(run_dir: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "postprocess.render", str(run_dir)]
    return subprocess.run(
        cmd, capture_output=True, text=True, env=clean_env(), cwd=ROOT, timeout=300
    )


@pytest.fixture(scope="module")
def rendered(tiny_run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny run directory, rendered once; returns its figures directory."""
    run_dir = tmp_path_factory.mktemp("render") / "tiny"
    shutil.copytree(tiny_run_dir, run_dir, ignore=shutil.ignore_patterns("figures"))
    start = time.perf_counter()
    result = _render(run_dir)
    elapsed = time.perf_counter() - start
    print(f"\nrender of the tiny run: {elapsed:.2f} s (subprocess, including imports)")
    assert result.returncode == 0, result.stderr
    assert "bad X server connection" not in result.stderr
    return run_dir / "figures"


def _rgb(png: Path) -> np.ndarray:
    """H×W×3 uint8 pixels."""
    img = imread(png)
    if img.dtype != np.uint8:
        img = np.rint(np.asarray(img) * 255).astype(np.uint8)
    return img[..., :3]


def _map_area(img: np.ndarray) -> np.ndarray:
    """The map without the scalar bar (right) and the title/footer text bands."""
    h, w, _ = img.shape
    return img[int(0.08 * h) : int(0.93 * h), : int(0.84 * w)]


def test_map_png_size_and_not_blank(rendered: Path) -> None:
    png = rendered / "max_principal_clip.png"
    assert png.is_file()
    img = _rgb(png)
    assert (img.shape[1], img.shape[0]) == MAP_SIZE
    area = _map_area(img).reshape(-1, 3).astype(float)
    assert area.std(axis=0).max() > 20.0
    distinct = np.unique(area.astype(np.uint8) // 8, axis=0)
    assert len(distinct) > 50


def test_map_has_tension_and_compression_colours(rendered: Path) -> None:
    area = _map_area(_rgb(rendered / "max_principal_clip.png")).reshape(-1, 3).astype(int)
    r, g, b = area.T
    blue = (b > r + 60) & (b > g + 10)
    red = (r > b + 60) & (r > g + 30)
    assert blue.sum() > 500, "no compressive (blue) region on the map"
    assert red.sum() > 500, "no tensile (red) region on the map"


def test_map_has_diverging_scalar_bar(rendered: Path) -> None:
    img = _rgb(rendered / "max_principal_clip.png")
    h, w, _ = img.shape
    bar = img[int(0.15 * h) : int(0.85 * h), int(0.84 * w) : int(0.95 * w)].reshape(-1, 3)
    r, g, b = bar.astype(int).T
    assert ((r > 80) & (g < 30) & (b < 60)).sum() > 50, "no dark-red end of the scalar bar"
    assert ((b > 70) & (r < 30) & (g < 80)).sum() > 50, "no dark-blue end of the scalar bar"


def test_history_png(rendered: Path) -> None:
    png = rendered / "history.png"
    assert png.is_file()
    img = _rgb(png)
    assert img.shape[0] > 400 and img.shape[1] > 400
    assert img.reshape(-1, 3).std(axis=0).max() > 20.0


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.images: list[str] = []
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_heading = tag in ("h1", "h2")
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        self._in_heading = False

    def handle_data(self, data: str) -> None:
        if self._in_heading and data.strip():
            self.headings.append(data.strip())


def test_report_html(rendered: Path) -> None:
    text = (rendered / "report.html").read_text(encoding="utf-8")
    assert text.lstrip().lower().startswith("<!doctype html>")
    parser = _Collector()
    parser.feed(text)
    parser.close()
    assert HEADINGS <= set(parser.headings)
    assert "tiny_rve" in parser.headings
    assert len(parser.images) == 2
    assert all(src.startswith("data:image/png;base64,") for src in parser.images)
    for word in ("complete", "Si", "Li6PS5Cl", "dolfinx"):
        assert word in text


def test_missing_fields_xdmf_is_named(tiny_run_dir: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "broken"
    shutil.copytree(tiny_run_dir, run_dir, ignore=shutil.ignore_patterns("fields.xdmf"))
    result = _render(run_dir)
    assert result.returncode == 2
    assert "fields.xdmf" in result.stderr
    assert not (run_dir / "figures" / "max_principal_clip.png").exists()


def test_cli_render(rendered: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "cli"
    shutil.copytree(rendered.parent, run_dir, ignore=shutil.ignore_patterns("figures"))
    ssbmech("render", str(run_dir))
    assert (run_dir / "figures" / "report.html").is_file()
    (run_dir / "fields.xdmf").unlink()
    result = ssbmech("render", str(run_dir), check=False)
    assert result.returncode == 2
    assert "fields.xdmf" in result.stderr


_READER_CHECK = """
import json, sys
import numpy as np
from postprocess.reader import read_run
run = read_run(sys.argv[1])
tag = run.cell_tags["matrix"]
out = {"times": list(run.times("max_principal")), "region_times": list(run.times("region"))}
for t in out["times"]:
    grid = run.grid_at(t)
    s1 = np.asarray(grid["max_principal"])[np.asarray(grid["region"]) == tag]
    out.setdefault("matrix_max", []).append(float(s1.max()))
    out.setdefault("sigma_shape", list(np.shape(grid["sigma"])))
print(json.dumps(out))
"""


def test_reader_matches_history(tiny_run_dir: Path) -> None:
    """Per-step cell fields agree with history.csv; region (written once) serves every step."""
    result = subprocess.run(
        [sys.executable, "-c", _READER_CHECK, str(tiny_run_dir)],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    header, *rows = (tiny_run_dir / "history.csv").read_text().splitlines()
    cols = header.split(",")
    table = np.array([[float(v) for v in r.split(",")] for r in rows])
    np.testing.assert_allclose(out["times"], table[:, cols.index("time_s")])
    assert out["region_times"] == [0.0]
    np.testing.assert_allclose(
        out["matrix_max"], table[:, cols.index("max_principal_Pa_Li6PS5Cl")], rtol=1e-6
    )
    assert out["sigma_shape"][1] == 9


def test_render_without_summary_and_case(tiny_run_dir: Path, tmp_path: Path) -> None:
    """A run that is still going (no summary.json, no resolved case) still renders."""
    run_dir = tmp_path / "partial"
    shutil.copytree(
        tiny_run_dir,
        run_dir,
        ignore=shutil.ignore_patterns("figures", "summary.json", "case.resolved.yaml"),
    )
    result = _render(run_dir)
    assert result.returncode == 0, result.stderr
    text = (run_dir / "figures" / "report.html").read_text(encoding="utf-8")
    assert "unknown" in text
    assert text.count("data:image/png;base64,") == 2
