"""Rendering of a real tiny run: PNG pixels, views, colour limits, plots, report HTML,
animation, compare, sweep plot, interactive view, missing-file errors.

Colour limits are checked against fields.h5 read here with h5py (independent of the
postprocess reader). Rendering runs in subprocesses: this pytest process imports DOLFINx
elsewhere, and VTK crashes in a process that did.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import h5py
import numpy as np
import pytest
from matplotlib.image import imread
from PIL import Image

from tests.conftest import ROOT, TINY_CASE, clean_env, ssbmech

MAP_SIZE = (1200, 900)  # width, height (px)
HEADINGS = {
    "Case",
    "Materials",
    "Mesh",
    "Final values per material",
    "Maxima",
    "Maps",
    "Plots",
    "Timings",
    "Versions",
}


def _render(run_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "postprocess.render", str(run_dir), *args]
    return subprocess.run(
        cmd, capture_output=True, text=True, env=clean_env(), cwd=ROOT, timeout=300
    )


@pytest.fixture(scope="module")
def rendered(tiny_run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny run directory, rendered once (defaults + animation); its figures dir."""
    run_dir = tmp_path_factory.mktemp("render") / "tiny"
    shutil.copytree(tiny_run_dir, run_dir, ignore=shutil.ignore_patterns("figures"))
    start = time.perf_counter()
    result = _render(run_dir, "--animate")
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
    manifest = json.loads((rendered / "figures.json").read_text())
    pngs = [f for f in manifest["figures"] if f["file"].endswith(".png")]
    assert len(pngs) >= 10
    assert len(parser.images) == len(pngs)
    assert all(src.startswith("data:image/png;base64,") for src in parser.images)
    for word in ("complete", "Si", "Li6PS5Cl", "dolfinx", "Sethuraman", "render_s", "DOFs"):
        assert word in text
    # maxima table: the matrix's largest σ1 (last step) as in history.csv
    header, *rows = (rendered.parent / "history.csv").read_text().splitlines()
    s1 = float(rows[-1].split(",")[header.split(",").index("max_principal_Pa_Li6PS5Cl")])
    assert f"<td>{s1 * 1e-6:.4g}</td>" in text


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
    ssbmech("render", str(run_dir), "--field", "crack_risk", "--view", "cross_section")
    assert (run_dir / "figures" / "report.html").is_file()
    assert (run_dir / "figures" / "crack_risk_cross_section.png").is_file()
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
    history = run_dir / "history.csv"  # a voltage shift column adds a panel to history.png
    lines = history.read_text().splitlines()
    lines = [lines[0] + ",voltage_shift_V"] + [f"{r},{-0.01 * i}" for i, r in enumerate(lines[1:])]
    history.write_text("\n".join(lines) + "\n")
    result = _render(run_dir, "--view", "clip")
    assert result.returncode == 0, result.stderr
    text = (run_dir / "figures" / "report.html").read_text(encoding="utf-8")
    assert "unknown" in text
    assert text.count("data:image/png;base64,") == 4  # σ1 clip, history, solver, histogram
    assert _rgb(run_dir / "figures" / "history.png").shape[0] == int(4 * 2.6 * 150)


VIEWS = (
    "clip",
    "slices",
    "particles",
    "risk",
    "deformed",
    "deformed_exaggerated",
    "cross_section",
)


def _manifest(figures: Path) -> dict:
    return json.loads((figures / "figures.json").read_text())


def _maps(figures: Path) -> dict[str, dict]:
    return {f["file"]: f for f in _manifest(figures)["figures"] if f["kind"] == "map"}


def _h5_steps(run_dir: Path, name: str) -> list[np.ndarray]:
    """The field's datasets in time order (SI), straight from fields.h5."""
    with h5py.File(run_dir / "fields.h5", "r") as h5:
        group = h5["Function"][name]
        keys = sorted(group, key=float)
        return [np.asarray(group[k]).reshape(len(group[k]), -1) for k in keys]


def _region_mask(run_dir: Path, names: list[str] | None) -> np.ndarray | None:
    if names is None:
        return None
    tags = json.loads((run_dir / "tags.json").read_text())["cells"]
    region = np.rint(_h5_steps(run_dir, "region")[0][:, 0]).astype(int)
    return np.isin(region, [tags[n] for n in names])


def test_every_view_written_non_blank(rendered: Path) -> None:
    maps = _maps(rendered)
    for view in VIEWS:
        entry = maps[f"max_principal_{view}.png"]
        img = _rgb(rendered / entry["file"])
        assert (img.shape[1], img.shape[0]) == (1200, 900) == tuple(entry["size"])
        area = _map_area(img).reshape(-1, 3).astype(float)
        assert area.std(axis=0).max() > 20.0, view
        assert len(np.unique(area[::7].astype(np.uint8) // 8, axis=0)) > 20, view
    for field in ("von_mises", "hydrostatic", "crack_risk", "theta", "u"):
        assert f"{field}_clip.png" in maps
    for plot in ("history.png", "solver.png", "histogram_max_principal.png"):
        assert (rendered / plot).is_file()


def test_colour_bar_range_is_the_field_range(rendered: Path) -> None:
    """clim = ±max|σ1| over all steps = ±max|σ1| at the last step (monotonic loading);
    step_range = min/max at the last step over the coloured regions; the same for every view
    colouring all cells, the particles' own range for the particle view."""
    run_dir = rendered.parent
    steps = _h5_steps(run_dir, "max_principal")
    for entry in _maps(rendered).values():
        if entry["field"] != "max_principal":
            continue
        mask = _region_mask(run_dir, entry["regions"])
        values = [(s[:, 0] if mask is None else s[mask, 0]) * 1e-6 for s in steps]
        top = max(np.abs(v).max() for v in values)
        assert np.abs(values[-1]).max() == pytest.approx(top, rel=1e-9)
        np.testing.assert_allclose(entry["clim"], [-top, top], rtol=1e-9, err_msg=entry["file"])
        np.testing.assert_allclose(
            entry["step_range"], [values[-1].min(), values[-1].max()], rtol=1e-9
        )
        assert entry["unit"] == "MPa"


def test_sequential_field_limits(rendered: Path) -> None:
    """von Mises (unsigned): limits are its min and max over all steps."""
    entry = _maps(rendered)["von_mises_clip.png"]
    values = np.concatenate([s[:, 0] for s in _h5_steps(rendered.parent, "von_mises")]) * 1e-6
    np.testing.assert_allclose(entry["clim"], [values.min(), values.max()], rtol=1e-9)


def test_particle_view_hides_the_matrix(rendered: Path) -> None:
    """Si is compressed everywhere: no tension (red) pixels once the matrix is hidden."""
    entry = _maps(rendered)["max_principal_particles.png"]
    assert entry["regions"] == ["particles"]
    assert entry["step_range"][1] < 0
    img = _rgb(rendered / entry["file"]).copy()
    h, w, _ = img.shape
    img[int(0.8 * h) :, : int(0.2 * w)] = 255  # the orientation widget (its x arrow is red)
    area = _map_area(img).reshape(-1, 3).astype(int)
    r, g, b = area.T
    assert ((r > b + 60) & (r > g + 30)).sum() == 0, "matrix (tension) colour in particle view"
    assert ((b > r + 60) & (b > g + 10)).sum() > 2000


def test_animation_frames(rendered: Path) -> None:
    entry = next(f for f in _manifest(rendered)["figures"] if f["kind"] == "animation")
    written = len(_h5_steps(rendered.parent, "max_principal"))
    with Image.open(rendered / entry["file"]) as gif:
        assert gif.n_frames == entry["frames"] == written == 3
        assert gif.size == (1200, 900)
        frames = []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("RGB"), dtype=float))
    assert all(f.std() > 20 for f in frames)
    assert np.abs(frames[0] - frames[-1]).mean() > 1.0  # the frames differ


def test_step_and_bad_field(rendered: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "step"
    shutil.copytree(rendered.parent, run_dir, ignore=shutil.ignore_patterns("figures"))
    result = _render(run_dir, "--field", "crack_risk", "--view", "cross_section", "--step", "1")
    assert result.returncode == 0, result.stderr
    entry = _maps(run_dir / "figures")["crack_risk_cross_section.png"]
    assert entry["step"] == 1 and entry["soc"] == pytest.approx(0.01)
    risk = _h5_steps(run_dir, "crack_risk")[1][:, 0]
    np.testing.assert_allclose(entry["step_range"], [risk.min(), risk.max()], rtol=1e-9)
    bad = _render(run_dir, "--field", "plastic_strain")
    assert bad.returncode == 2
    assert "plastic_strain" in bad.stderr and "max_principal" in bad.stderr
    assert "von_mises" in bad.stderr  # the available fields are listed


@pytest.fixture(scope="module")
def mpi_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mpi") / "tiny2"
    ssbmech("run", str(TINY_CASE), "--out", str(out), ranks=2)
    return out


def test_two_ranks_render_like_serial(rendered: Path, mpi_run_dir: Path) -> None:
    """Same case on 1 and 2 ranks: same colour limits and ranges, same image statistics."""
    result = _render(mpi_run_dir, "--view", "clip", "--view", "particles")
    assert result.returncode == 0, result.stderr
    serial, parallel = _maps(rendered), _maps(mpi_run_dir / "figures")
    for name in ("max_principal_clip.png", "max_principal_particles.png"):
        np.testing.assert_allclose(parallel[name]["clim"], serial[name]["clim"], rtol=1e-5)
        np.testing.assert_allclose(
            parallel[name]["step_range"], serial[name]["step_range"], rtol=1e-5
        )
        a = _map_area(_rgb(rendered / name)).astype(float)
        b = _map_area(_rgb(mpi_run_dir / "figures" / name)).astype(float)
        np.testing.assert_allclose(a.mean(axis=(0, 1)), b.mean(axis=(0, 1)), atol=1.0)
        np.testing.assert_allclose(a.std(axis=(0, 1)), b.std(axis=(0, 1)), atol=1.0)


def test_compare(rendered: Path, mpi_run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    ssbmech("compare", str(rendered.parent), str(mpi_run_dir), "--out", str(out))
    manifest = json.loads((out / "compare.json").read_text())
    assert manifest["labels"] == ["tiny", "tiny2"]
    serial = _maps(rendered)["max_principal_clip.png"]["clim"]
    np.testing.assert_allclose(manifest["clim"], serial, rtol=1e-5)
    img = _rgb(out / "max_principal_clip_compare.png")
    assert (img.shape[1], img.shape[0]) == (1600, 700)
    left, right = img[:, :800].astype(float), img[:, 800:].astype(float)
    assert left.std() > 20 and right.std() > 20
    assert (out / "history_compare.png").is_file()
    assert ssbmech("compare", str(mpi_run_dir), check=False).returncode == 2


_SWEEP = """
import sys
from postprocess.sweep_plot import plot_sweep
plot_sweep(sys.argv[1], "stack_pressure_Pa", ["max_principal_Pa_Li6PS5Cl", "max_crack_risk"],
           sys.argv[2])
print("pyvista" in sys.modules)
"""


def test_sweep_plot(tmp_path: Path) -> None:
    csv = tmp_path / "sweep.csv"
    csv.write_text(
        "case,stack_pressure_Pa,max_principal_Pa_Li6PS5Cl,max_crack_risk\n"
        "b,75e6,5.1e8,3.1\na,25e6,4.9e8,2.9\nc,50e6,5.0e8,3.0\n"
    )
    png = tmp_path / "sweep.png"
    result = subprocess.run(
        [sys.executable, "-c", _SWEEP, str(csv), str(png)],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"  # matplotlib only: safe next to DOLFINx
    img = _rgb(png)
    assert img.shape[0] > 400 and img.reshape(-1, 3).std(axis=0).max() > 20


def test_view_without_display_exits_2(tiny_run_dir: Path) -> None:
    if importlib.util.find_spec("trame") is not None:
        pytest.skip("trame installed: view would serve a web page")
    env = {k: v for k, v in clean_env().items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run(
        [sys.executable, "-m", "solver.cli", "view", str(tiny_run_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 2
    assert "no display" in result.stderr and "trame" in result.stderr


def test_rve_has_no_film_section(rendered: Path) -> None:
    manifest = json.loads((rendered / "figures.json").read_text())
    assert "film_section" not in {f.get("view") for f in manifest["figures"]}
