"""Fixtures: tiny deterministic models and images (built by ``tiny_models``), never downloaded."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from tiny_models import tiny_classifier_model, tiny_conv_model

from dreamer.backend import chosen_name


def pytest_collection_modifyitems(config, items):
    """Tests marked ``tensorflow_only`` (TensorFlow's own formats and compilation) skip under another backend."""
    if chosen_name() == "tensorflow":
        return
    skip = pytest.mark.skip(reason=f"needs the TensorFlow backend; Keras runs on {chosen_name()}")
    for item in items:
        if "tensorflow_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def bfloat16_kernels():
    """Skips a test that asks for bfloat16 where the CPU library has no bfloat16 convolutions.

    oneDNN builds them on AVX-512 and newer x86 CPUs; on an AVX2-only CPU
    (AMD Zen 3, most laptops; or ``ONEDNN_MAX_CPU_ISA=AVX2``) a bfloat16
    network cannot run there, which dreamer reports as an error
    (``test_a_machine_without_bfloat16_kernels_gets_a_one_line_error``).
    """
    import keras

    from dreamer import backend

    layer = keras.layers.Conv2D(2, 3, dtype="bfloat16")
    try:
        layer(np.zeros((1, 5, 5, 3), np.float32))
    except backend.kernel_errors():
        pytest.skip("this CPU library has no bfloat16 convolution (oneDNN on a CPU without AVX-512)")


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
    """A fresh current folder with the model cache inside it, no user config file (dream's defaults), and no
    inception5h hand-over from the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DREAMER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("DREAMER_INCEPTION5H", raising=False)
    return tmp_path


@pytest.fixture
def runner(workdir):
    """A CliRunner working in ``workdir``."""
    from click.testing import CliRunner

    return CliRunner()


@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory):
    """The tiny classifier saved as a .keras file."""
    path = tmp_path_factory.mktemp("models") / "clf.keras"
    tiny_classifier_model().save(path)
    return path

