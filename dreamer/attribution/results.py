"""The files of one explained photo, and the batch worker that makes them.

A result is named like a dream's (``cat_<model>_explain.png``) and is the
figure of every method over the photo; beside it go one overlay per method
(``cat_<model>_explain_gradcam.png``), each raw map (``..._gradcam.npy``,
H x W float32 at the size the network saw) and the JSON record
(``....json``). The worker returns the figure as the outcome's data and
the rest as its ``files``; the batch (``dreamer.batch``) writes them all, so
manifest, resume and ``--executor ray`` work as for ``dream``.

A recipe (plain JSON, see ``explain_recipe``) carries the model, methods,
target, check flag and settings to a worker.
"""

from __future__ import annotations

import io
import json
import platform
import time
from typing import Any, Mapping

import numpy as np

from dreamer.attribution.figures import overlay_png
from dreamer.attribution.network import TargetSpec
from dreamer.attribution.run import Explanation, explain_image
from dreamer.attribution.settings import ExplainSettings
from dreamer.executors.base import Job, Outcome, Worker

#: The longest side a photo is drawn at in the figures.
DRAW_SIZE = 640


def explain_recipe(model: str, methods, target: TargetSpec, settings: ExplainSettings, check: bool,
                   labels: tuple[str, str], **chosen: Any) -> dict:
    """The plain settings of an explain batch: what jobs carry and the manifest compares.

    ``chosen``: max_size, weights, preprocess, unsafe_load, input_name (None when not given).
    """
    from dreamer.batch.settings import make_recipe

    base = make_recipe(model, {}, chosen.pop("max_size", None), **chosen)
    return {**base, "command": "explain", "methods": list(methods),
            "target": {"kind": target.kind, "text": target.text}, "check": bool(check),
            "settings": settings.as_dict(), "labels": list(labels), "seed": settings.seed}


def load_recipe_model(recipe: Mapping[str, Any], cache_dir=None):
    """The adapter a recipe names."""
    from pathlib import Path

    from dreamer.fileio import default_cache_dir
    from dreamer.models import load_model

    return load_model(recipe["model"], Path(cache_dir) if cache_dir else default_cache_dir(),
                      Path(recipe["weights"]) if recipe.get("weights") else None, recipe.get("preprocess"),
                      unsafe=bool(recipe.get("unsafe_load")), input_name=recipe.get("input_name"))


def build_explain_worker(recipe: dict, cache_dir: str | None = None) -> Worker:
    """What an executor calls once per process: load the model, return the worker."""
    return explain_worker(load_recipe_model(recipe, cache_dir), recipe)


def explain_worker(adapter, recipe: Mapping[str, Any], name: str | None = None, progress=None) -> Worker:
    """A worker around a loaded adapter: ``Job -> Outcome`` (figure as data, the other files in ``files``)."""
    worker_name = name or platform.node() or "local"

    def render(job: Job) -> Outcome:
        return render_explain_job(adapter, job, worker_name, progress)

    return render


def render_explain_job(adapter, job: Job, worker_name: str = "local", progress=None) -> Outcome:
    """Explain one job's photo and encode every file of its result.

    Raises:
        DreamerError: the photo can't be read, or the model refuses it.
    """
    from dreamer.batch.worker import result_metadata
    from dreamer.images import load_image_bytes

    start = time.perf_counter()
    recipe = job.settings
    photo = load_image_bytes(job.data, job.name, recipe.get("max_size")).rgb
    explanation = explain_image(adapter, photo, recipe["methods"], target=TargetSpec(**recipe["target"]),
                                settings=ExplainSettings.from_dict(recipe["settings"]), check=recipe["check"],
                                progress=progress)
    model_label, objective_label = recipe["labels"]
    metadata = result_metadata({"model": model_label, "objective": objective_label, **explanation.record()},
                               job.name, job.data, recipe)
    figure, files = result_files(explanation, photo, metadata)
    return Outcome(job.key, data=figure, seconds=time.perf_counter() - start, worker=worker_name,
                   extra={"seed": recipe.get("seed"), "metadata": metadata}, files=files)


def result_files(explanation: Explanation, photo: np.ndarray, metadata: dict) -> tuple[bytes, dict[str, bytes]]:
    """(the figure PNG carrying ``metadata``, {name suffix: bytes} of the overlays, maps and JSON)."""
    from PIL import Image

    from dreamer.images import encode_image

    drawn = drawing_copy(photo)
    caption = explanation.caption()
    figure = overlay_png(drawn, explanation.maps, caption, explanation.trust)
    files = {".json": (json.dumps(metadata, indent=2, default=_plain) + "\n").encode()}
    for method, heat in explanation.maps.items():
        files[f"_{method}.png"] = overlay_png(drawn, {method: heat}, caption)
        files[f"_{method}.npy"] = npy_bytes(heat)
    return encode_image(Image.open(io.BytesIO(figure)), "PNG", metadata), files


def drawing_copy(photo: np.ndarray) -> np.ndarray:
    """The photo at most ``DRAW_SIZE`` on its long side (figures need no more)."""
    from dreamer.images import resize

    height, width = photo.shape[:2]
    if max(height, width) <= DRAW_SIZE:
        return photo
    scale = DRAW_SIZE / max(height, width)
    return resize(photo, (max(1, round(height * scale)), max(1, round(width * scale))))


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` as the bytes of a ``.npy`` file."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, np.float32), allow_pickle=False)
    return buffer.getvalue()


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
