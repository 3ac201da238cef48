"""``dreamer.explain(...)``: attribution maps from Python, for one photo or several.

    import dreamer
    result = dreamer.explain("samples/chelsea.png", methods=["gradcam", "ig"], check=True)
    result.maps["gradcam"]        # H x W float32 in [0, 1]
    result.caption(), result.trust["gradcam"]["deletion"]
    dreamer.attribution.write_overlay("cat_gradcam.png", result.image, result.maps["gradcam"], result.caption())
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from dreamer.attribution.network import TargetSpec
from dreamer.attribution.run import Explanation, explain_image
from dreamer.attribution.settings import ExplainSettings, parse_methods
from dreamer.errors import DreamerError


def explain(images, model=None, methods: Sequence[str] | str | None = None, *, target: str | None = None,
            class_name: str | int | None = None, check: bool = False, cache_dir=None, preprocess: str | None = None,
            **settings) -> Explanation | list[Explanation]:
    """Attribution maps of ``images`` (a path, an H x W x 3 array, or a list of them).

    Args:
        images: photo path(s) or array(s) (uint8, or float in [0, 1]).
        model: a registered name, a model file, a ``keras.Model`` or a loaded adapter (default: the default model).
        methods: names or aliases from ``dreamer.attribution.METHODS`` (default: Grad-CAM and SmoothGrad).
        target: objective text (``"block5c_add:37"``, ``"class(tabby)"``) instead of the predicted class.
        class_name: a class name or index instead of the predicted class.
        check: also measure deletion/insertion and the randomisation check.
        cache_dir, preprocess: as for ``dreamer.dream``.
        settings: ``ExplainSettings`` fields (``samples=32``, ``cam_layer="block6a_add"``, ...).

    Returns:
        One ``Explanation`` for one image, else a list in the same order.

    Raises:
        DreamerError: an unknown method, class or layer, or an unreadable image.
    """
    from dreamer.fileio import default_cache_dir
    from dreamer.models import DEFAULT_MODEL, load_model

    if target is not None and class_name is not None:
        raise DreamerError("give target= or class_name=, not both")
    spec = TargetSpec("class", str(class_name)) if class_name is not None else \
        TargetSpec("objective", target) if target is not None else TargetSpec()
    chosen = parse_methods([methods] if isinstance(methods, str) else methods or [])
    config = ExplainSettings(**settings)
    adapter = load_model(model or DEFAULT_MODEL, Path(cache_dir) if cache_dir else default_cache_dir(),
                         preprocess=preprocess)
    many = isinstance(images, (list, tuple))
    results = [explain_image(adapter, photo_array(image), chosen, target=spec, settings=config, check=check)
               for image in (images if many else [images])]
    return results if many else results[0]


def photo_array(image) -> np.ndarray:
    """A path or an array -> H x W x 3 float32 in [0, 1]."""
    from dreamer.images import array_to_loaded, load_image

    if isinstance(image, (str, Path)):
        return load_image(image).rgb
    return array_to_loaded(np.asarray(image)).rgb
