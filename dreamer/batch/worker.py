"""The batch worker: settings in, a loaded model, then one job after another.

``build_worker(settings)`` is what an executor calls once per process (or
per Ray actor): ``functools.partial(build_worker, settings)`` is a picklable
``WorkerFactory``. The worker decodes a job's input bytes, dreams with the
job's settings (its seed may differ from job to job; the model settings may
not), and returns the result as PNG bytes carrying its settings, so whoever
runs it needs no shared file system for inputs or results.

The settings dict (see ``dreamer.batch.settings``) is plain JSON: the model
and objective as the user chose them, the engine's settings, ``max_size``
and the seed. The same dict is the ``recipe`` a result carries, which is
what ``dream again`` reads back.
"""

from __future__ import annotations

import hashlib
import platform
import time
from typing import Any, Mapping

from dreamer.batch.settings import MODEL_KEYS, dream_config, dreamer_from_recipe, model_settings
from dreamer.errors import DreamerError
from dreamer.executors.base import Job, Outcome, Worker


def build_worker(settings: dict, cache_dir: str | None = None) -> Worker:
    """Load the model and objective the settings name; return the worker that renders jobs.

    ``cache_dir``: where the model's converted or downloaded files are (None: the default folder).

    Raises:
        DreamerError: a bad model, layer, guide or mask.
    """
    return worker_for(load_dreamer(settings, cache_dir), settings)


def load_dreamer(settings: Mapping[str, Any], cache_dir=None, download_progress=None):
    """The ``Dreamer`` that ``settings`` describe, as each worker (local or a Ray actor) loads it once
    (``dreamer.batch.settings.dreamer_from_recipe``, the one way a recipe becomes a Dreamer)."""
    return dreamer_from_recipe(settings, cache_dir, download_progress)


def worker_for(dreamer, settings: Mapping[str, Any], name: str | None = None) -> Worker:
    """A worker around an already loaded ``Dreamer`` (the CLI loads one to check the settings first)."""
    from dreamer.images import load_image

    mask = load_image(settings["mask"]) if settings.get("mask") else None
    expected = model_settings(settings)
    worker_name = name or platform.node() or "local"

    def render(job: Job) -> Outcome:
        if model_settings(job.settings) != expected:
            raise ValueError(f"job {job.key} asks for another model or objective than this worker has")
        return render_job(dreamer, job, mask, worker_name)

    return render


def render_job(dreamer, job: Job, mask=None, worker_name: str = "local", progress=None) -> Outcome:
    """Dream on one job's input and return the PNG bytes, with its metadata in ``extra``.

    ``progress`` (optional) gets the engine's ``Progress`` events, for a step bar.

    Raises:
        DreamerError: the input can't be read or dreamed on.
    """
    from dreamer.images import encode_image, load_image_bytes

    start = time.perf_counter()
    loaded = load_image_bytes(job.data, job.name, job.settings.get("max_size"))
    config = dream_config(job.settings)
    result = dreamer.dream(loaded, config, progress, None, mask)
    metadata = result_metadata(result.info["dreamer"], job.name, job.data, job.settings)
    data = encode_image(result, "PNG", metadata)
    return Outcome(job.key, data=data, seconds=time.perf_counter() - start, worker=worker_name,
                   extra={"seed": config.seed, "metadata": metadata, "size": list(result.size)})


def result_metadata(resolved: Mapping[str, Any], input_path: str, data: bytes,
                    recipe: Mapping[str, Any]) -> dict[str, Any]:
    """What a result PNG carries: the resolved settings (as ``dream`` always wrote them), the
    input's path and SHA-256, and the ``recipe`` (the settings as asked, to render it again)."""
    return {
        **resolved,
        "max_size": recipe.get("max_size"),
        "input": input_path,
        "input_sha256": hashlib.sha256(data).hexdigest(),
        "recipe": dict(recipe),
    }


__all__ = ["DreamerError", "MODEL_KEYS", "build_worker", "load_dreamer", "render_job", "worker_for"]
