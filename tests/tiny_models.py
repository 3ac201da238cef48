"""Tiny deterministic models and images for the tests, made here and never downloaded.

Test files import these helpers directly (``from tiny_models import ...``);
``conftest.py`` turns them into fixtures.
"""

from __future__ import annotations

import numpy as np


def seeded_glorot(layer, seed: int) -> None:
    """Set ``layer``'s kernel to Glorot-uniform weights drawn with NumPy, the same on every Keras backend
    (Keras' own seeded initializers draw from the backend's generator and differ between backends)."""
    shape = tuple(layer.kernel.shape)
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    layer.kernel.assign(np.random.default_rng(seed).uniform(-limit, limit, size=shape).astype(np.float32))


def tiny_conv_model(kernel: int = 3, seed: int = 0, name: str = "tiny", stride: int = 2):
    """Three named conv layers on an input of any size, with seeded weights."""
    import keras

    def conv(filters, stride, layer_name, index):
        return keras.layers.Conv2D(
            filters,
            kernel,
            strides=stride,
            padding="same",
            activation="relu",
            name=layer_name,
            bias_initializer=keras.initializers.Constant(0.01),
        )

    inputs = keras.Input((None, None, 3), name="pixels")
    x = conv(8, 1, "conv1", 1)(inputs)
    x = conv(16, stride, "conv2", 2)(x)
    x = conv(16, 1, "conv3", 3)(x)
    model = keras.Model(inputs, x, name=name)
    for index, layer_name in enumerate(("conv1", "conv2", "conv3"), start=1):
        seeded_glorot(model.get_layer(layer_name), seed + index)
    return model


def tiny_classifier_model(classes: int = 10, seed: int = 0):
    """tiny_conv_model's layers, then global average pooling and a Dense 'predictions' layer (logits)."""
    import keras

    base = tiny_conv_model(seed=seed, name="tiny_classifier")
    pooled = keras.layers.GlobalAveragePooling2D(name="avg_pool")(base.output)
    logits = keras.layers.Dense(classes, name="predictions")(pooled)
    model = keras.Model(base.inputs, logits, name="tiny_classifier")
    seeded_glorot(model.get_layer("predictions"), seed + 4)
    return model


def save_photo(path, size=(64, 48), mode="RGB"):
    """A seeded random RGB image of ``size`` (W, H), saved in ``mode``; returns the path."""
    from PIL import Image

    array = (np.random.default_rng(0).random((size[1], size[0], 3)) * 255).astype(np.uint8)
    Image.fromarray(array).convert(mode).save(path)
    return path


def result_files(folder) -> list[str]:
    """The names in an output folder, without the batch's own manifest and claims."""
    from dreamer.batch.claims import CLAIMS_FOLDER
    from dreamer.batch.manifest import MANIFEST_NAME

    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name not in (MANIFEST_NAME, CLAIMS_FOLDER))


#: The region (top, left, size) of ``region_photo`` where ``region_classifier_model``'s class 0 evidence sits.
EVIDENCE_REGION = (4, 18, 10)


def region_classifier_model(seed: int = 0):
    """A 32x32 classifier whose class 0 is "how much red there is": two conv layers built as red
    detectors (plus seeded noise), global pooling, a Dense head (class 0 positive on every detector)."""
    import keras

    rng = np.random.default_rng(seed)
    inputs = keras.Input((32, 32, 3), name="pixels")
    conv1 = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv1")
    conv2 = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv2")
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")
    dense = keras.layers.Dense(3, name="predictions")
    model = keras.Model(inputs, dense(pooled(conv2(conv1(inputs)))), name="region_classifier")
    kernel1 = rng.normal(0, 0.05, (3, 3, 3, 6)).astype(np.float32)
    kernel1[:, :, 0, :] += 1.0 / 9
    kernel1[:, :, 1:, :] -= 0.5 / 9
    conv1.set_weights([kernel1, np.full(6, -0.1, np.float32)])
    kernel2 = rng.normal(0, 0.05, (3, 3, 6, 6)).astype(np.float32)
    kernel2[1, 1] += np.eye(6, dtype=np.float32)
    conv2.set_weights([kernel2, np.zeros(6, np.float32)])
    head = np.stack([np.linspace(1.0, 0.5, 6), -np.linspace(0.5, 1.0, 6), rng.normal(0, 0.1, 6)], axis=1)
    dense.set_weights([head.astype(np.float32), np.zeros(3, np.float32)])
    return model


def region_photo(seed: int = 0) -> np.ndarray:
    """32x32 float32: dim green/blue noise everywhere, a red square at ``EVIDENCE_REGION``."""
    rng = np.random.default_rng(seed)
    image = np.zeros((32, 32, 3), np.float32)
    image[..., 1:] = rng.random((32, 32, 2)) * 0.3
    top, left, size = EVIDENCE_REGION
    image[top:top + size, left:left + size, 0] = 1.0
    return image


def redness_model(name: str = "redness"):
    """Channel 0 of both layers measures redness, R - (G + B) / 2, averaged over 3x3 windows (stride 2, twice);
    channels 1-3 have seeded random weights. The layers are linear, so an image's pooled channel 0 grows with
    its redness."""
    import keras

    def layer(inputs, filters, layer_name, first, seed):
        kernel = np.random.default_rng(seed).normal(0, 0.3, (3, 3, inputs.shape[-1], filters)).astype(np.float32)
        kernel[..., 0] = 0.0
        kernel[:, :, :, 0][..., : first.size] = first / 9.0
        conv = keras.layers.Conv2D(filters, 3, strides=2, padding="same", name=layer_name)
        out = conv(inputs)
        conv.set_weights([kernel, np.zeros(filters, np.float32)])
        return out

    inputs = keras.Input((None, None, 3), name="pixels")
    x = layer(inputs, 4, "red1", np.array([1.0, -0.5, -0.5], np.float32), 1)
    x = layer(x, 4, "red2", np.array([1.0], np.float32), 2)
    return keras.Model(inputs, x, name=name)


def red_square_folder(folder, count: int = 6, size=(80, 64)):
    """``count`` grey images (W x H ``size``) each with a 14x14 red square at a seeded place inside the centre
    square, image ``i`` redder than ``i - 1``; saved in a shuffled order of names. Returns [(path, box)],
    reddest first, box = (left, top, right, bottom)."""
    from pathlib import Path

    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    width, height = size
    offset = (width - height) // 2
    names = rng.permutation(count)
    made = []
    for i in range(count):
        array = np.full((height, width, 3), 120, np.uint8)
        left, top = offset + int(rng.integers(2, height - 16)), int(rng.integers(2, height - 16))
        array[top : top + 14, left : left + 14] = (min(255, 130 + 20 * i), 90, 90)
        path = folder / f"img{names[i]:02d}.png"
        Image.fromarray(array).save(path)
        made.append((path, (left, top, left + 14, top + 14)))
    return made[::-1]
