"""The Python API: ``dream(image, ...)`` and the reusable ``Dreamer``.

``Dreamer`` holds a loaded model and the compiled gradient for one objective,
so a script (or the CLI) that renders many images pays for loading and
tracing once. ``dream`` is the one-call form; it keeps the last few Dreamers
for registered models so repeated calls are fast too.
"""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from dreamer import __version__
from dreamer.engine import DreamConfig, GradientFunction, ProgressCallback, run
from dreamer.errors import DreamerError, ImageError
from dreamer.fileio import default_cache_dir
from dreamer.images import LoadedImage, array_to_loaded, load_image, pil_to_loaded, to_pil
from dreamer.models import DEFAULT_MODEL, ModelAdapter, load_model
from dreamer.objectives import Objective, combine
from dreamer.precision import resolve_precision

_DEFAULTS = DreamConfig()


class Dreamer:
    """A model and an objective, ready to dream on many images.

    Args:
        model: a registered model's name, a path to a saved Keras model, a
            ``keras.Model``, or a ModelAdapter.
        layers: a layer name (``name`` or ``name=weight``), a list of them, a
            dict of name -> weight, or an Objective; None uses the model's
            default layer.
        loss: ``"l2"`` (mean squared activation) or ``"mean"``.
        cache_dir: where converted weights are cached (default: the user's
            cache folder).
        weights: a local weights file for a registered model.
        preprocess: the input scaling of the user's own model.
        precision: ``"auto"`` (bfloat16 where the hardware has it natively,
            float32 elsewhere), ``"float32"`` or ``"bfloat16"``; see
            ``dreamer.precision``.

    Raises:
        DreamerError: a bad model, layer or precision name.
    """

    def __init__(
        self,
        model=DEFAULT_MODEL,
        layers=None,
        *,
        loss: str = "l2",
        cache_dir: str | os.PathLike | None = None,
        weights: str | os.PathLike | None = None,
        preprocess: str | None = None,
        precision: str = "auto",
    ):
        resolve_precision(precision, ())  # refuses an unknown name before any loading
        self.precision = precision
        cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.adapter: ModelAdapter = load_model(
            model, cache_dir, Path(weights) if weights else None, preprocess
        )
        self.objective: Objective = combine(layers or self.adapter.default_layer, loss)
        for name in self.objective.layers():
            self.adapter.layer_info(name)
        self._gradient: GradientFunction | None = None

    @property
    def gradient(self) -> GradientFunction:
        if self._gradient is None:
            self._gradient = GradientFunction(self.adapter, self.objective, self.precision)
        return self._gradient

    def dream_array(
        self, rgb: np.ndarray, config: DreamConfig, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        """Dream on float32 HxWx3 pixels in [0, 1]; returns the same format."""
        return run(rgb, self.gradient, config, progress)

    def dream(
        self,
        image,
        config: DreamConfig | None = None,
        progress: ProgressCallback | None = None,
        max_size: int | None = None,
    ):
        """Dream on a path, a PIL image or an array; returns a PIL image.

        The result's ``info["dreamer"]`` holds every setting (the seed
        included), which ``save_image`` writes into PNG files.
        """
        config = config or replace(_DEFAULTS, seed=new_seed())
        loaded = as_loaded(image, max_size)
        rgb = self.dream_array(loaded.rgb, config, progress)
        result = to_pil(rgb, loaded.alpha)
        result.info["dreamer"] = self.settings(config)
        return result

    def settings(self, config: DreamConfig) -> dict:
        """Everything needed to reproduce a result."""
        return {
            "dreamer_version": __version__,
            "model": self.adapter.name,
            "layers": {term.name: weight for weight, term in self.objective.terms()},
            "objective": self.objective.name,
            "precision": self.gradient.precision,
            **asdict(config),
        }


def new_seed() -> int:
    """A fresh random seed, to be recorded with the result."""
    return secrets.randbelow(2**31)


def as_loaded(image, max_size: int | None = None) -> LoadedImage:
    """A path, PIL image or array -> float32 RGB in [0, 1] (and alpha)."""
    from PIL import Image

    from dreamer.images import fit_within

    if isinstance(image, (str, os.PathLike)):
        return load_image(image, max_size)
    if isinstance(image, Image.Image):
        loaded = pil_to_loaded(image)
    elif isinstance(image, np.ndarray):
        loaded = array_to_loaded(image)
    else:
        raise ImageError(f"cannot dream on a {type(image).__name__}: give a path, a PIL image or an array")
    return fit_within(loaded, max_size) if max_size else loaded


@functools.lru_cache(maxsize=4)
def _cached_dreamer(model: str, layers_key, loss: str, cache_dir, weights, preprocess, precision) -> Dreamer:
    layers = dict(layers_key) if layers_key is not None else None
    return Dreamer(
        model, layers, loss=loss, cache_dir=cache_dir, weights=weights, preprocess=preprocess, precision=precision
    )


def _layers_key(layers):
    """A hashable form of ``layers`` (dict of name -> weight), or None."""
    if layers is None:
        return None
    objective = combine(layers)
    return tuple((term.layer, weight) for weight, term in objective.terms())


def dream(
    image,
    *,
    model=DEFAULT_MODEL,
    layers=None,
    iterations: int = _DEFAULTS.iterations,
    octaves: int = _DEFAULTS.octaves,
    octave_scale: float = _DEFAULTS.octave_scale,
    step_size: float = _DEFAULTS.step_size,
    jitter: int = _DEFAULTS.jitter,
    tile_size: int | None = _DEFAULTS.tile_size,
    seed: int | None = None,
    max_size: int | None = None,
    loss: str = "l2",
    progress: ProgressCallback | None = None,
    cache_dir: str | os.PathLike | None = None,
    weights: str | os.PathLike | None = None,
    preprocess: str | None = None,
    precision: str = "auto",
):
    """Dream on one image and return the result as a PIL image.

    Args:
        image: a path, a PIL image, or an HxWx3 uint8 array.
        model: a registered model's name, a path to a saved Keras model, or a
            ``keras.Model``.
        layers: a layer name, a list of names (``name=weight`` allowed), or a
            dict of name -> weight; None uses the model's default layer.
        iterations, octaves, octave_scale, step_size, jitter, tile_size: see
            ``dreamer.engine.DreamConfig``.
        seed: the same seed, image and settings give the same pixels; None
            picks one, recorded in ``result.info["dreamer"]["seed"]``.
        max_size: downscale the input so its long side is at most this.
        progress: called with a ``dreamer.engine.Progress`` after each step.
        precision: ``"auto"``, ``"float32"`` or ``"bfloat16"`` (see ``Dreamer``).

    Raises:
        dreamer.errors.DreamerError: a bad image, model, layer or setting.
    """
    config = DreamConfig(
        iterations=iterations,
        octaves=octaves,
        octave_scale=octave_scale,
        step_size=step_size,
        jitter=jitter,
        tile_size=tile_size,
        seed=new_seed() if seed is None else int(seed),
    )
    if isinstance(model, (str, Path)) and not isinstance(layers, Objective):
        dreamer = _cached_dreamer(
            str(model),
            _layers_key(layers),
            loss,
            None if cache_dir is None else str(cache_dir),
            None if weights is None else str(weights),
            preprocess,
            precision,
        )
    else:
        dreamer = Dreamer(
            model, layers, loss=loss, cache_dir=cache_dir, weights=weights, preprocess=preprocess, precision=precision
        )
    return dreamer.dream(image, config, progress, max_size)


__all__ = ["Dreamer", "DreamConfig", "DreamerError", "dream", "new_seed"]
