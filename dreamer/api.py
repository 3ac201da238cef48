"""The Python API: ``dream(image, ...)`` and the reusable ``Dreamer``.

``Dreamer`` holds a loaded model and the compiled gradient for one objective,
so a script (or the CLI) that renders many images pays for loading and
tracing once. ``dream`` is the one-call form; it keeps the last few Dreamers
for registered models, and the last few built on a ``keras.Model`` object
(for as long as that object lives), so repeated calls are fast too.
"""

from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from dreamer import backend
from dreamer.config import DreamConfig, settings, signature_with_settings
from dreamer.engine import ObjectiveGradient, ProgressCallback, ascend
from dreamer.engine.colors import is_grayscale
from dreamer.errors import DreamerError
from dreamer.fileio import default_cache_dir
from dreamer.images import as_loaded, save_image, source_record, to_pil
from dreamer.models import DEFAULT_MODEL, ModelAdapter, feature_network, load_model
from dreamer.models.model_cache import kept_for_model
from dreamer.objectives import Objective, bind, build_objective, combine, guided
from dreamer.param.render import diversity_layer_for, fourier_renderer
from dreamer.param.settings import render_config
from dreamer.precision import resolve_precision
from dreamer.settings import new_seed
from dreamer.startup import quiet_tensorflow_import
from dreamer.version import __version__

#: A guide image is scaled down to fit in this many pixels (long side) before its features are taken.
GUIDE_MAX_SIZE = 512


def objective_gradient(adapter: ModelAdapter, objective: Objective, precision: str = "float32") -> ObjectiveGradient:
    """The compiled gradient of ``objective`` on ``adapter``'s network, rewritten for speed.

    Raises:
        DreamerError: ``precision="bfloat16"`` for a model that can't be
            rewritten, or an unknown precision.
    """
    return ObjectiveGradient(feature_network(adapter, objective.layer_names(), precision), objective)


class Dreamer:
    """A model and an objective, ready to dream on many images.

    Args:
        model: a registered model's name, a path to a saved Keras model, a
            ``keras.Model``, or a ModelAdapter.
        layers: objective text (``"block5c_add:97 + 0.5*block4c_add"``, see
            ``dreamer.objectives.GRAMMAR``; ``name=weight`` too), a list of
            them (summed), a dict of name -> weight, or an Objective; None
            uses the model's default layer (or only ``classes`` if given).
        loss: ``"l2"`` (mean squared activation), ``"mean"``, or None: l2 for
            whole layers, mean for channels and neurons.
        classes: class names or indices whose logits to add to the objective.
        guide: an image (path, PIL image or array): dream towards its
            features at the objective's layers (whole layers only).
        cache_dir: where converted weights are cached (default: the user's
            cache folder).
        weights: a local weights file for a registered model.
        preprocess: the input scaling of the user's own model.
        unsafe_load: let a ``.keras`` file run the code it holds (Lambda
            layers); only for files you trust.
        download_progress: ``f(done_bytes, total_bytes_or_None)`` while
            weights download.
        precision: ``"auto"`` (bfloat16 where the hardware has it natively
            and the network has no depthwise convolutions, float32
            elsewhere), ``"float32"`` or ``"bfloat16"``; see
            ``dreamer.precision``.
        input_name: the input op of a frozen GraphDef model (``.pb``);
            found by itself when the graph has one float placeholder.

    Raises:
        DreamerError: a bad model, layer or precision name.
    """

    def __init__(
        self,
        model=DEFAULT_MODEL,
        layers=None,
        *,
        loss: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        weights: str | os.PathLike | None = None,
        preprocess: str | None = None,
        classes=(),
        guide=None,
        unsafe_load: bool = False,
        download_progress=None,
        precision: str = "auto",
        input_name: str | None = None,
    ):
        resolve_precision(precision, ())  # refuses an unknown name before any loading
        quiet_tensorflow_import()
        self.precision = precision
        cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.adapter: ModelAdapter = load_model(
            model, cache_dir, Path(weights) if weights else None, preprocess,
            unsafe=unsafe_load, progress=download_progress, input_name=input_name,
        )
        objective = build_objective(layers, classes, loss, self.adapter.default_layer)
        self.guide_source = {} if guide is None else source_record("guide", guide)
        if guide is not None:
            source = Path(guide).name if isinstance(guide, (str, os.PathLike)) else "guide"
            objective = guided(objective, self.adapter, as_loaded(guide, GUIDE_MAX_SIZE).rgb, source)
        self.objective: Objective = bind(objective, self.adapter)
        self._gradient: ObjectiveGradient | None = None

    @property
    def gradient(self) -> ObjectiveGradient:
        """The compiled gradient, built at first use."""
        if self._gradient is None:
            self._gradient = objective_gradient(self.adapter, self.objective, self.precision)
        return self._gradient

    def ascend(
        self, rgb: np.ndarray, config: DreamConfig, progress: ProgressCallback | None = None,
        mask: np.ndarray | None = None,
    ) -> np.ndarray:
        """Gradient ascent on float32 HxWx3 pixels in [0, 1] (mask: HxW weights); returns the same format."""
        self.gradient.new_dream()
        return ascend(rgb, self.gradient, config, progress, mask)

    def dream(
        self,
        image,
        config: DreamConfig | None = None,
        progress: ProgressCallback | None = None,
        max_size: int | None = None,
        mask=None,
    ):
        """Dream on a path, a PIL image or an array; returns a PIL image.

        ``mask`` (a path, PIL image or array; stretched to the image): only
        its white part changes, grey blends, black stays as the input.
        ``config.keep_colors`` None (the default) dreams on the brightness
        alone for a grayscale input. The result's ``info["dreamer"]`` holds
        every setting (the seed, ``max_size``, and the input, mask and guide
        by path and SHA-256 included); ``save(result, path)`` writes them
        into a PNG.
        """
        from dreamer.images import mask_weights

        config = config or DreamConfig(seed=new_seed())
        loaded = as_loaded(image, max_size)
        if config.keep_colors is None:
            config = replace(config, keep_colors=is_grayscale(loaded.rgb))
        weights = None if mask is None else mask_weights(as_loaded(mask), loaded.rgb.shape[:2])
        rgb = self.ascend(loaded.rgb, config, progress, weights)
        result = to_pil(rgb, loaded.alpha)
        result.info["dreamer"] = {
            **self.settings(config), "max_size": max_size,
            **source_record("input", image), **({} if mask is None else source_record("mask", mask)),
        }
        if loaded.icc_profile:
            result.info["icc_profile"] = loaded.icc_profile
        return result

    def render(self, size: int | tuple[int, int], param: str = "fft", config=None, variants: int = 1,
               progress: ProgressCallback | None = None) -> list:
        """Render the objective from noise; returns ``variants`` PIL images of ``size`` (a side, or (H, W)).

        Args:
            param: ``"fft"`` (Fourier coefficients in decorrelated colour,
                Adam, robustness moves; variants differ by a diversity term)
                or ``"pixels"`` (the engine's ascent from a grey noise image;
                variants differ by their seed).
            config: a ``FourierConfig`` for fft, a ``DreamConfig`` for
                pixels (both in ``dreamer.config``); None: the defaults with
                a new seed.

        Raises:
            DreamerError: an unknown parameterisation, a config of the other
                kind, or a size the model can't take.
        """
        from dreamer.param.pixels import start_image
        from dreamer.param.render import ObjectiveScores

        shape = (size, size) if isinstance(size, int) else tuple(size)
        config = render_config(param, config)
        if param == "pixels":
            arrays = [ascend(start_image(shape, config.seed + v), self.gradient, replace(config, seed=config.seed + v),
                             progress) for v in range(variants)]
        else:
            renderer = fourier_renderer(self.adapter, ObjectiveScores(self.objective),
                                        diversity_layer_for(self.objective, self.adapter), self.precision)
            arrays = list(renderer.render(shape, [0], variants, config, progress))
        images = [to_pil(a) for a in arrays]
        for image in images:
            image.info["dreamer"] = {**self.settings_for(config), "param": param, "variants": variants}
        return images

    def settings_for(self, config) -> dict:
        """``settings`` without the gradient's precision, for any config (a DreamConfig or a FourierConfig)."""
        return {
            "dreamer_version": __version__,
            "model": self.adapter.name,
            "layers": {term.name: weight for weight, term in self.objective.terms()},
            "objective": self.objective.name,
            "backend": backend.chosen_name(),
            **asdict(config),
        }

    def settings(self, config: DreamConfig) -> dict:
        """Everything needed to reproduce a result."""
        return {
            "dreamer_version": __version__,
            "model": self.adapter.name,
            "layers": {term.name: weight for weight, term in self.objective.terms()},
            "objective": self.objective.name,
            "precision": self.gradient.precision,
            "backend": backend.chosen_name(),
            **self.guide_source,
            **asdict(config),
        }


def save(image, path: str | os.PathLike) -> Path:
    """Write a result with every setting it carries (``image.info["dreamer"]``) in a PNG text chunk.

    The format follows the extension; the file is written atomically and
    replaces an existing one (as ``Image.save`` does). ``image.save(path)``
    writes the pixels alone: Pillow does not keep text chunks by itself.

    Raises:
        ImageError: the extension is not writable, or the write failed.
    """
    return save_image(image, path, image.info.get("dreamer"))


@dataclass(frozen=True)
class _CacheKey:
    """What a Dreamer that ``dream()`` keeps is built from, hashable (the layers parsed, paths as text)."""

    model: str
    layers: Objective | None
    classes: tuple[str, ...]
    loss: str | None
    cache_dir: str | None
    weights: str | None
    preprocess: str | None
    unsafe_load: bool = False
    precision: str = "auto"
    input_name: str | None = None


@functools.lru_cache(maxsize=4)
def _cached_dreamer(key: _CacheKey) -> Dreamer:
    return Dreamer(key.model, key.layers, loss=key.loss, cache_dir=key.cache_dir, weights=key.weights,
                   preprocess=key.preprocess, classes=key.classes, unsafe_load=key.unsafe_load,
                   precision=key.precision, input_name=key.input_name)


def _layers_key(layers, loss):
    """A hashable form of ``layers`` (the parsed, unbound objective), or None."""
    if layers is None or (not isinstance(layers, (str, Objective)) and len(layers) == 0):
        return None
    return combine(layers, loss)


def dream(
    image,
    *,
    model=DEFAULT_MODEL,
    layers=None,
    seed: int | None = None,
    max_size: int | None = None,
    loss: str | None = None,
    progress: ProgressCallback | None = None,
    cache_dir: str | os.PathLike | None = None,
    weights: str | os.PathLike | None = None,
    preprocess: str | None = None,
    classes=(),
    guide=None,
    mask=None,
    unsafe_load: bool = False,
    precision: str = "auto",
    preset: str | None = None,
    input_name: str | None = None,
    **config_settings,
):
    """Dream on one image and return the result as a PIL image.

    Args:
        image: a path, a PIL image, or an HxWx3 uint8 array.
        model: a registered model's name, a path to a saved Keras model, or a
            ``keras.Model``.
        layers: objective text such as ``"block5c_add:97 + 0.5*block4c_add"``
            (see ``dreamer.objectives.GRAMMAR``), a list of them (summed), a
            dict of name -> weight, or an Objective; None uses the model's
            default layer.
        classes: class names or indices whose logits to maximise.
        guide: dream towards this image's features (whole layers only).
        mask: only the white part of this image changes; grey blends.
        loss: "l2", "mean", or None (l2 for layers, mean for channels).
        seed: the same seed, image and settings give the same pixels; None
            picks one, recorded in ``result.info["dreamer"]["seed"]``.
        max_size: downscale the input so its long side is at most this.
        progress: called with a ``dreamer.engine.Progress`` after each step.
        unsafe_load: let a ``.keras`` model file run the code it holds.
        precision: ``"auto"``, ``"float32"`` or ``"bfloat16"`` (see ``Dreamer``).
        preset: a named preset (``dreamer.presets``, e.g. ``"deep"``); the
            other arguments given override it. Settings kept in a TOML
            file: ``dream(image, **dreamer.configfile.load_settings(path))``.
        input_name: the input op of a frozen GraphDef model (``.pb``).
        **config_settings: any other field of ``dreamer.config.DreamConfig``
            (iterations, octaves, octave_scale, step_size, jitter, tile_size,
            laplacian_levels, tv, rotate, scale_jitter ...), with its default.

    Returns:
        A PIL image whose ``info["dreamer"]`` holds every setting;
        ``dreamer.save(result, "out.png")`` writes them into the file.

    Raises:
        TypeError: a keyword that is not a setting.
        dreamer.errors.DreamerError: a bad image, model, layer or setting.
    """
    if preset is not None:
        layers, config_settings = _with_preset(preset, layers, config_settings)
    config = _config_from(seed, config_settings)
    classes = tuple([classes] if isinstance(classes, (str, int)) else classes or ())
    if isinstance(model, (str, Path)) and not isinstance(layers, Objective) and guide is None:
        dreamer = _cached_dreamer(_CacheKey(
            str(model), _layers_key(layers, loss), tuple(str(c) for c in classes), loss,
            None if cache_dir is None else str(cache_dir), None if weights is None else str(weights),
            preprocess, unsafe_load, precision, input_name,
        ))
    else:
        def build() -> Dreamer:
            return Dreamer(model, layers, loss=loss, cache_dir=cache_dir, weights=weights, preprocess=preprocess,
                           classes=classes, guide=guide, unsafe_load=unsafe_load, precision=precision,
                           input_name=input_name)

        if _is_keras_model(model) and guide is None:  # the same model object again: no new rewrite or trace
            key = (_layers_key(layers, loss), tuple(str(c) for c in classes), loss, preprocess, precision)
            dreamer = kept_for_model(model, key, build)
        else:
            dreamer = build()
    return dreamer.dream(image, config, progress, max_size, mask)


def _with_preset(name: str, layers, config_settings: dict):
    """The preset's layers (unless ``layers`` is given) and its settings under those given."""
    from dreamer.presets import preset_settings

    chosen = preset_settings(name)
    preset_layers = chosen.pop("layers", None)
    return (preset_layers if layers is None else layers), {**chosen, **config_settings}


def _is_keras_model(model) -> bool:
    import sys

    keras = sys.modules.get("keras")  # a keras.Model was made with keras imported
    return keras is not None and isinstance(model, keras.Model)


def _config_from(seed: int | None, config_settings: dict) -> DreamConfig:
    """A DreamConfig from ``dream()``'s keywords; a missing seed is drawn now."""
    unknown = sorted(set(config_settings) - set(settings()))
    if unknown:
        raise TypeError(f"dream() got an unexpected keyword argument {unknown[0]!r}")
    return DreamConfig(seed=new_seed() if seed is None else int(seed), **config_settings)


dream.__signature__ = signature_with_settings(dream)


__all__ = ["Dreamer", "DreamConfig", "DreamerError", "dream", "new_seed", "objective_gradient", "save"]
