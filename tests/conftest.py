"""Tiny deterministic models and images, made here and never downloaded."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest


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
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed + index),
            bias_initializer=keras.initializers.Constant(0.01),
        )

    inputs = keras.Input((None, None, 3), name="pixels")
    x = conv(8, 1, "conv1", 1)(inputs)
    x = conv(16, stride, "conv2", 2)(x)
    x = conv(16, 1, "conv3", 3)(x)
    return keras.Model(inputs, x, name=name)


def tiny_classifier_model(classes: int = 10, seed: int = 0):
    """tiny_conv_model's layers, then global average pooling and a Dense 'predictions' layer (logits)."""
    import keras

    base = tiny_conv_model(seed=seed, name="tiny_classifier")
    pooled = keras.layers.GlobalAveragePooling2D(name="avg_pool")(base.output)
    logits = keras.layers.Dense(
        classes, name="predictions", kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 4)
    )(pooled)
    return keras.Model(base.inputs, logits, name="tiny_classifier")


@pytest.fixture(scope="session")
def tiny_classifier():
    return tiny_classifier_model()


@pytest.fixture(scope="session")
def tiny_model():
    return tiny_conv_model()


@pytest.fixture(scope="session")
def pointwise_model():
    """Only 1x1 convolutions: each pixel's gradient depends on that pixel alone."""
    return tiny_conv_model(kernel=1, name="pointwise", stride=1)


@pytest.fixture
def photo() -> np.ndarray:
    """A smooth 48x64 RGB test image in [0, 1], with some structure."""
    y, x = np.mgrid[0:48, 0:64].astype(np.float32)
    rgb = np.stack([x / 63, y / 47, 0.5 + 0.4 * np.sin(x / 5) * np.cos(y / 7)], axis=-1)
    return np.clip(rgb, 0, 1).astype(np.float32)


@pytest.fixture(scope="session")
def model_file(tmp_path_factory):
    """The tiny model saved as a .keras file, as a user would hand it over."""
    path = tmp_path_factory.mktemp("models") / "tiny.keras"
    tiny_conv_model().save(path)
    return path


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh current folder with the model cache inside it, and no inception5h hand-over from the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DREAMER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DREAMER_INCEPTION5H", raising=False)
    return tmp_path


@pytest.fixture
def runner(workdir):
    """A CliRunner working in ``workdir``."""
    from click.testing import CliRunner

    return CliRunner()


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

    return sorted(p.name for p in folder.iterdir() if p.name not in (MANIFEST_NAME, CLAIMS_FOLDER))
