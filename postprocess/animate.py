"""GIF of one field in one view over every written step (``ssbmech render --animate``).

All frames share the colour limits of the field over all steps (:mod:`postprocess.limits`),
so a colour means the same value in every frame. Frames are rendered off screen like the
maps and written with imageio (Pillow GIF writer), one frame per written time, looping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np

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
    iio.imwrite(out, np.stack(frames), extension=".gif", duration=int(FRAME_S * 1000), loop=0)
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
