"""GIF of one field in one view over every written step (``ssbmech render --animate``).

All frames share the colour limits of the field over all steps (:mod:`postprocess.limits`),
so a colour means the same value in every frame. Frames are rendered off screen like the
maps and written as a looping GIF, one frame per written time, with one 256-colour palette
for all frames (built from all of them), so equal colours stay equal from frame to frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from postprocess.fields import field_spec
from postprocess.limits import colour_limits, field_range, region_mask
from postprocess.maps import render_map, scene_grid, view_of
from postprocess.reader import RunData

#: seconds each frame is shown
FRAME_S = 0.8


def animate(run: RunData, key: str, view_name: str, out_dir: Path) -> dict[str, Any]:
    """Write ``out_dir/<field>_<view>.gif``; return its manifest entry (frames, limits)."""
    spec = field_spec(run, key)
    view = view_of(view_name, run)
    regions = view.regions(run.cell_tags)
    mask = region_mask(run, spec, regions)
    clim = colour_limits(run, spec, mask)
    times = run.fields[spec.source].times
    frames = []
    for i, t in enumerate(times):
        grid = scene_grid(run, spec, t)
        image, _ = render_map(run, grid, spec, view, t, clim, field_range(run, spec, i, mask), None)
        frames.append(np.ascontiguousarray(image[..., :3]))
    out = Path(out_dir) / f"{spec.key}_{view.name}.gif"
    _write_gif(frames, out)
    return {
        "file": out.name,
        "kind": "animation",
        "field": spec.key,
        "view": view.name,
        "unit": spec.unit,
        "frames": len(frames),
        "times_s": list(times),
        "clim": list(clim),
        "regions": regions,
        "size": [int(frames[0].shape[1]), int(frames[0].shape[0])],
    }


def _write_gif(frames: list[np.ndarray], out: Path) -> None:
    """Quantise every frame to one shared palette (no dithering) and write a looping GIF."""
    sample = np.concatenate([f[::4, ::2] for f in frames], axis=0)
    palette = Image.fromarray(sample).quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    images = [
        Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames
    ]
    images[0].save(
        out, save_all=True, append_images=images[1:], duration=int(FRAME_S * 1000), loop=0
    )
