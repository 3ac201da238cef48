"""Pictures of maps: a heat map over the photo with a colour bar and a caption, as PNG bytes.

``overlay_png(photo, maps, caption)`` draws the photo and one panel per
method (the map upsampled to the photo, over it), with one colour bar and
the caption (class and score) on top; with ``trust`` each panel's title
also shows its deletion/insertion areas. ``write_overlay`` writes one map's
overlay to a file (atomically). ``stacked_png`` puts such figures one under
another, for ``--sheet``. matplotlib runs on its Agg backend.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Mapping

import numpy as np

from dreamer.attribution.arrays import upsampled
from dreamer.attribution.settings import METHODS

#: How strongly the heat map covers the photo.
ALPHA = 0.5
#: The colour map of every overlay.
CMAP = "jet"
#: Gradient maps are drawn clipped at this percentile (a few pixels would otherwise take the whole scale).
CLIP_PERCENTILE = 99.0


def display_map(heat: np.ndarray, method: str) -> np.ndarray:
    """The map as drawn: pixel-level methods clipped at the 99th percentile and rescaled to [0, 1]."""
    heat = np.asarray(heat, np.float32)
    if method in ("gradients", "smoothgrad", "integrated-gradients") and heat.any():
        top = float(np.percentile(heat, CLIP_PERCENTILE)) or float(heat.max())
        heat = np.clip(heat / top, 0.0, 1.0)
    return heat


def overlay_png(photo: np.ndarray, maps: Mapping[str, np.ndarray], caption: str,
                trust: Mapping[str, dict] | None = None, panel_inches: float = 3.2) -> bytes:
    """The photo, then each map over it, a colour bar, ``caption`` on top: PNG bytes.

    Args:
        photo: H x W x 3 float32 in [0, 1] (the maps are upsampled to it).
        maps: method -> 2-D map in [0, 1].
        caption: the figure's title (class and score).
        trust: method -> its trust record, to show deletion/insertion under each title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    height, width = photo.shape[:2]
    panels = 1 + len(maps)
    figure, axes = plt.subplots(1, panels, figsize=(panel_inches * panels * width / max(width, height) + 0.8,
                                                    panel_inches * height / max(width, height) + 0.9),
                                squeeze=False)
    axes = axes[0]
    axes[0].imshow(np.clip(photo, 0, 1))
    axes[0].set_title("photo", fontsize=9)
    shown = None
    for ax, (method, heat) in zip(axes[1:], maps.items()):
        ax.imshow(np.clip(photo, 0, 1))
        shown = ax.imshow(display_map(upsampled(heat, (height, width)), method), cmap=CMAP, alpha=ALPHA,
                          vmin=0.0, vmax=1.0)
        ax.set_title(panel_title(method, (trust or {}).get(method)), fontsize=9)
    for ax in axes:
        ax.axis("off")
    if shown is not None:
        bar = figure.colorbar(shown, ax=list(axes), fraction=0.025, pad=0.01)
        bar.set_label("attribution (largest = 1)", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    figure.suptitle(caption, fontsize=10)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def panel_title(method: str, trust: dict | None) -> str:
    """``gradcam`` or, checked, ``gradcam`` over ``del 0.12 ins 0.71 rho 0.05``."""
    name = METHODS.get(method, method).split(":")[0]
    if not trust:
        return name
    correlations = [s["rank_correlation"] for s in trust.get("randomisation", []) if s["rank_correlation"] is not None]
    rho = f" rho {correlations[-1]:.2f}" if correlations else ""
    return f"{name}\ndel {trust['deletion']:.2f} ins {trust['insertion']:.2f}{rho}"


def write_overlay(path, photo: np.ndarray, heat: np.ndarray, caption: str, method: str = "") -> Path:
    """One map over ``photo`` with a colour bar and ``caption``, written atomically to ``path`` (PNG)."""
    from dreamer.fileio import atomic_path

    data = overlay_png(photo, {method or "map": heat}, caption)
    with atomic_path(Path(path)) as tmp:
        Path(tmp).write_bytes(data)
    return Path(path)


def stacked_png(images: list[bytes]) -> bytes:
    """PNG figures one under another on white (widths may differ): PNG bytes."""
    from PIL import Image

    opened = [Image.open(io.BytesIO(data)).convert("RGB") for data in images]
    width = max(im.width for im in opened)
    sheet = Image.new("RGB", (width, sum(im.height for im in opened)), "white")
    top = 0
    for im in opened:
        sheet.paste(im, (0, top))
        top += im.height
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()
