"""The explorer's frames as pictures, for slides: PNG files or one animated GIF (Pillow, the ``slides`` extra).

Each picture is the drawing of one frame, laid out by Graphviz exactly as on the page: the
current node and edge highlighted, each step coloured once the backward pass has reached it,
and a caption with the frame's numbers.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from minigrad.viz.explorer.page import to_dot

if TYPE_CHECKING:
    from minigrad.viz.explorer.explore import Explorer

PHASES = ("forward", "backward", "both")


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError("save_gif/save_frames need Pillow: pip install 'minigrad[slides]' (or pip install pillow)"
                          ) from e
    return Image


def _chosen(explorer: Explorer, phase: str, max_frames: int) -> list[int]:
    if phase not in PHASES:
        raise ValueError(f"explorer frames: phase must be one of {PHASES}, got {phase!r}")
    if not isinstance(max_frames, int) or max_frames < 1:
        raise ValueError(f"explorer frames: max_frames must be a positive int, got {max_frames!r}")
    chosen = [i for i, f in enumerate(explorer.frames) if phase == "both" or f.phase == phase]
    if len(chosen) > max_frames:
        raise ValueError(f"explorer frames: {len(chosen)} {phase} frames is more than max_frames={max_frames}; "
                         "explore a window of steps (window=(first, last)) or the cells view, or raise max_frames")
    return chosen


def render_png(explorer: Explorer, i: int, timeout: float = 60.0) -> bytes:
    """Frame ``i`` as PNG bytes (Graphviz)."""
    dot, program = to_dot(explorer.model, frame=i)
    if shutil.which(program) is None:
        raise RuntimeError(f"explorer frames: Graphviz's `{program}` is needed to draw the frames; install Graphviz")
    args = [program, "-Tpng", "-Gdpi=96"] + (["-n"] if program == "neato" else [])
    return subprocess.run(args, input=dot.encode("utf-8"), capture_output=True, timeout=timeout, check=True).stdout


def _images(explorer: Explorer, chosen: list[int]) -> list[Any]:
    """The frames as RGB images of one size (padded with white), so that a GIF does not jump."""
    Image = _pillow()
    images = [Image.open(io.BytesIO(render_png(explorer, i))).convert("RGB") for i in chosen]
    width = max(im.width for im in images)
    height = max(im.height for im in images)
    padded = []
    for im in images:
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(im, (0, 0))
        padded.append(canvas)
    return padded


def save_frames(explorer: Explorer, directory: Path, *, phase: str = "backward", max_frames: int = 200
                ) -> list[Path]:
    """Write ``frame_0001.png``, ... for the frames of ``phase``; returns the paths."""
    chosen = _chosen(explorer, phase, max_frames)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, image in enumerate(_images(explorer, chosen), start=1):
        path = directory / f"frame_{k:04d}.png"
        image.save(path)
        paths.append(path)
    return paths


def save_gif(explorer: Explorer, path: Path, *, phase: str = "backward", seconds_per_frame: float = 0.6,
             max_frames: int = 200) -> Path:
    """One animated GIF of the frames of ``phase`` (looping); returns its path."""
    if not seconds_per_frame > 0:
        raise ValueError(f"save_gif: seconds_per_frame must be positive, got {seconds_per_frame!r}")
    images = _images(explorer, _chosen(explorer, phase, max_frames))
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(seconds_per_frame * 1000), loop=0)
    return path
