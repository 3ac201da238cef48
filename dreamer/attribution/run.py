"""``explain_image``: one photo, one model, the chosen methods -> the maps, the score and the trust checks.

The network sees the photo at ``settings.size`` on its short side (the
model's classification size by default; exactly its input size when the
model has a fixed one), so memory does not grow with the photo; the maps are
computed there and upsampled only when drawn. ``Explanation.record()`` is
the JSON written beside each result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from dreamer.attribution import cams, pixels
from dreamer.attribution.network import Network, Target, TargetSpec, resolve_target
from dreamer.attribution.settings import DEFAULT_METHODS, LAYER_METHODS, ExplainSettings
from dreamer.attribution.trust import deletion_insertion, randomisation_check
from dreamer.errors import ModelError

#: Method name -> function(network, image, settings) -> H x W map.
METHOD_FUNCTIONS: dict[str, Callable] = {
    "gradients": pixels.vanilla_gradients,
    "smoothgrad": pixels.smoothgrad,
    "integrated-gradients": pixels.integrated_gradients,
    "gradcam": cams.gradcam,
    "gradcam++": cams.gradcam_plus_plus,
    "scorecam": cams.scorecam,
    "occlusion": cams.occlusion,
}


@dataclass
class Explanation:
    """The maps of one photo, and how far to trust them.

    Attributes:
        image: the H x W x 3 image in [0, 1] the network saw (the maps' size).
        maps: method -> H x W float32 map, non-negative, largest value 1.
        target: what was explained, e.g. ``"tabby (281)"`` or ``"block5c_add:37"``.
        score: the target's probability (a class) or score (an objective) on the image.
        model: the model's name.
        cam_layer: the layer of the CAM methods (None when none ran).
        trust: method -> {"deletion", "insertion", curves, "randomisation": [cascade steps]} (``check``).
        seconds: method -> seconds spent making its map.
        settings: the settings used.
    """

    image: np.ndarray
    maps: dict
    target: str
    score: float
    model: str
    cam_layer: str | None = None
    trust: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    settings: ExplainSettings = field(default_factory=ExplainSettings)
    is_class: bool = True

    def caption(self) -> str:
        """``tabby (281): p = 0.83 - efficientnet-lite0`` (a score, not p, for an objective)."""
        value = f"p = {self.score:.2f}" if self.is_class else f"score = {self.score:.3g}"
        return f"{self.target}: {value} - {self.model}"

    def record(self) -> dict:
        """Everything but the arrays, as JSON values."""
        return {"model": self.model, "target": self.target, "is_class": self.is_class,
                "score": round(float(self.score), 6), "methods": list(self.maps), "cam_layer": self.cam_layer,
                "map_size": [int(self.image.shape[1]), int(self.image.shape[0])],
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                "trust": self.trust, "settings": self.settings.as_dict()}


def explain_image(adapter, image01: np.ndarray, methods: Sequence[str] = DEFAULT_METHODS, *,
                  target: TargetSpec | None = None, settings: ExplainSettings | None = None,
                  check: bool = False, progress: Callable[[str], None] | None = None) -> Explanation:
    """The attribution maps of ``methods`` for one photo (H x W x 3 float32 in [0, 1]).

    Args:
        adapter: a loaded ``dreamer.models.ModelAdapter``.
        image01: the photo.
        methods: names from ``dreamer.attribution.METHODS``.
        target: the predicted class (None, the default), a class, or objective text.
        settings: the numbers the methods use (None: the defaults).
        check: also measure deletion/insertion and the randomisation check.
        progress: called with each method's name as it starts.

    Raises:
        ModelError: an unknown class or layer, a layer without height and width for a CAM,
            or a network that cannot run at the size asked.
    """
    settings = settings or ExplainSettings()
    image = analysis_image(adapter, np.asarray(image01, np.float32), settings.size)
    chosen = resolve_target(adapter, target or TargetSpec(), image)
    layer = cam_layer(adapter, chosen, settings.cam_layer, image.shape[:2]) \
        if any(m in LAYER_METHODS for m in methods) else None
    network = Network(adapter, chosen, layer, settings.batch)
    result = Explanation(image, {}, chosen.label, float(network.probability_batch(image[None])[0]), adapter.name,
                         layer, settings=settings, is_class=chosen.is_class)
    for method in methods:
        if progress is not None:
            progress(method)
        start = time.perf_counter()
        result.maps[method] = METHOD_FUNCTIONS[method](network, image, settings)
        result.seconds[method] = time.perf_counter() - start
    if check:
        result.trust = {method: trust_of(network, image, result.maps[method], method, settings) for method in methods}
    return result


def trust_of(network, image: np.ndarray, heat: np.ndarray, method: str, settings: ExplainSettings) -> dict:
    """Deletion and insertion areas of ``heat``, and its randomisation cascade."""
    scores = deletion_insertion(network, image, heat, settings.curve_steps)
    scores["randomisation"] = randomisation_check(
        network.adapter.model, heat, lambda: METHOD_FUNCTIONS[method](network, image, settings),
        settings.cascade, settings.seed)
    return scores


def analysis_image(adapter, image01: np.ndarray, size: int = 0) -> np.ndarray:
    """The photo as the network sees it: exactly the model's input size when it has a fixed one (``size``
    ignored), else scaled so its short side is ``size`` (0: the adapter's classification size), aspect kept."""
    from dreamer.images import resize

    height, width = image01.shape[:2]
    fixed = fixed_input_size(adapter)
    if fixed is not None:
        shape = fixed
    else:
        side = max(size or adapter.classify_size, adapter.min_size)
        scale = side / min(height, width)
        shape = (max(side, round(height * scale)), max(side, round(width * scale)))
    return resize(image01, shape)


def fixed_input_size(adapter) -> tuple[int, int] | None:
    """(H, W) of a model that declares its input size, else None."""
    try:
        shape = tuple(adapter.model.inputs[0].shape)
    except (AttributeError, IndexError, TypeError):
        return None
    if len(shape) == 4 and shape[1] is not None and shape[2] is not None:
        return int(shape[1]), int(shape[2])
    return None


def cam_layer(adapter, target: Target, name: str, shape: tuple[int, int]) -> str:
    """The CAM layer: ``name`` checked, else the target's own layer (a layer objective), else the last
    layer with height and width above 1 at this image size.

    Raises:
        ModelError: ``name`` is unknown (closest names) or has no height and width.
    """
    if name:
        return checked_spatial_layer(adapter, name)
    spatial = adapter.layer_names()
    if not target.is_class:
        own = [n for n in target.objective.layer_names() if n in spatial]
        if own:
            return own[0]
    try:
        shapes = adapter.layer_shapes(*shape)
    except Exception:  # noqa: BLE001 - a model that can't be traced symbolically: its last listed layer
        return spatial[-1]
    wide = [n for n in spatial if len(shapes.get(n, ())) == 3 and (shapes[n][0] or 2) > 1 and (shapes[n][1] or 2) > 1]
    return (wide or spatial)[-1]


def checked_spatial_layer(adapter, name: str) -> str:
    """``name`` if it is a layer with height and width; else a one-line ModelError."""
    if name in adapter.layer_names():
        return name
    try:
        layer = adapter.model.get_layer(name)
    except ValueError:
        adapter.layer_info(name)  # unknown: raises with the closest names
        raise
    shape = tuple(getattr(layer.output, "shape", ()))
    last = adapter.layer_names()[-1] if adapter.layer_names() else "a convolution's output"
    raise ModelError(f"layer {name!r} has no spatial extent (its output is {shape}); Grad-CAM, Grad-CAM++ and "
                     f"Score-CAM need a layer with height and width, such as {last}")


def check_request(adapter, methods: Sequence[str], target: TargetSpec, settings: ExplainSettings) -> None:
    """What can be checked on the loaded model before any photo: the class or objective, and the CAM layer.

    Raises:
        ModelError: an unknown class or layer, a class asked of a model without a class output,
            or a CAM layer without height and width.
    """
    if target.kind != "predicted":
        resolve_target(adapter, target, None)
    if settings.cam_layer and any(m in LAYER_METHODS for m in methods):
        checked_spatial_layer(adapter, settings.cam_layer)
