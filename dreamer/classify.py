"""What a model sees in a photo: the top classes and their probabilities.

Contract: ``classify(adapter, image01)`` takes one float32 HxWx3 image in
[0, 1], scales its short side to the classification size (224 by default),
crops the centre square, runs ``adapter.preprocess`` and ``adapter.classifier_model()``,
and returns the ``top`` (label, probability) pairs, most likely first. Logits
go through a softmax; outputs that already are probabilities (non-negative,
summing to 1) are used as they are. Works for any adapter with ``labels``.
"""

from __future__ import annotations

import numpy as np

from dreamer.errors import ModelError


def classify(adapter, image01: np.ndarray, top: int = 5, size: int | None = None) -> list[tuple[str, float]]:
    """The ``top`` most likely classes of ``image01`` according to ``adapter``.

    Args:
        adapter: a ``ModelAdapter`` whose model ends in a class layer and has ``labels``.
        image01: float32 HxWx3 image with values in [0, 1].
        top: how many classes to return.
        size: the square side the model classifies at; default: the adapter's
            ``classify_size`` (224 for EfficientNet-Lite0).

    Returns:
        ``[(label, probability), ...]``, most likely first.

    Raises:
        ModelError: the model has no labels, or its output does not match them.
        ValueError: ``image01`` is not HxWx3.
    """
    from keras import ops

    if not adapter.labels:
        raise ModelError(f"model {adapter.name!r} has no class labels to classify with")
    image = np.asarray(image01, dtype=np.float32)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {image.shape}")
    batch = centre_square(ops.convert_to_tensor(image[None]), size or adapter.classify_size)
    output = ops.convert_to_numpy(adapter.classifier_model()(adapter.preprocess(batch), training=False))
    if output.ndim != 2 or output.shape[-1] != len(adapter.labels):
        raise ModelError(
            f"model {adapter.name!r} outputs shape {tuple(output.shape)}, "
            f"not one score for each of its {len(adapter.labels)} labels"
        )
    probabilities = to_probabilities(output[0].astype(np.float64))
    order = np.argsort(probabilities)[::-1][: max(0, top)]
    return [(adapter.labels[i], float(probabilities[i])) for i in order]


def centre_square(images, size: int):
    """NHWC images with the short side scaled to ``size`` (antialiased bilinear), centre-cropped to size x size."""
    from keras import ops

    height, width = int(images.shape[1]), int(images.shape[2])
    scale = size / min(height, width)
    new_h, new_w = max(size, round(height * scale)), max(size, round(width * scale))
    resized = ops.image.resize(images, (new_h, new_w), interpolation="bilinear", antialias=True)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return resized[:, top : top + size, left : left + size, :]


def to_probabilities(scores: np.ndarray) -> np.ndarray:
    """``scores`` if they already are a probability vector, else their softmax."""
    if np.all(scores >= 0) and abs(float(scores.sum()) - 1.0) < 1e-3:
        return scores
    shifted = np.exp(scores - scores.max())
    return shifted / shifted.sum()
