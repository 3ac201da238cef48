"""The embedded EfficientNet-Lite0: architecture, weight conversion, cache, classification."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from dreamer.classify import classify, to_probabilities
from dreamer.errors import ModelError
from dreamer.models import efficientnet_lite as lite
from dreamer.models.labels import load_imagenet_labels

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
CAT_CLASSES = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}
COFFEE_CLASSES = {"espresso", "cup", "coffee mug"}


def sample(name: str) -> np.ndarray:
    from PIL import Image

    with Image.open(SAMPLES / name) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


# ---------------------------------------------------------------------------
# Architecture (random weights, no download, no conversion)


@pytest.fixture(scope="module")
def architecture():
    return lite.build_efficientnet_lite0()


def test_layer_names_follow_keras_efficientnet(architecture):
    names = {layer.name for layer in architecture.layers}
    expected = {
        "stem_conv", "stem_bn", "stem_activation",
        "block1a_dwconv", "block1a_bn", "block1a_activation", "block1a_project_conv", "block1a_project_bn",
        "block2a_expand_conv", "block2a_expand_bn", "block2a_expand_activation", "block2a_dwconv",
        "block2b_add", "block4c_add", "block5a_project_bn", "block5c_add", "block6d_add", "block7a_project_bn",
        "top_conv", "top_bn", "top_activation", "avg_pool", "predictions",
    }  # fmt: skip
    assert expected <= names
    assert not any("se_" in name or "dropout" in name for name in names)


def test_sixteen_blocks_and_residuals(architecture):
    names = [layer.name for layer in architecture.layers]
    blocks = [n[: -len("_project_conv")] for n in names if n.endswith("_project_conv")]
    assert len(blocks) == 16
    assert blocks == [b.prefix[:-1] for b in lite.blocks()]
    adds = [n[: -len("_add")] for n in names if n.endswith("_add")]
    assert adds == ["block2b", "block3b", "block4b", "block4c", "block5b", "block5c", "block6b", "block6c", "block6d"]


def test_output_and_any_input_size(architecture):
    assert tuple(architecture.output.shape) == (None, 1000)
    assert tuple(architecture.input.shape) == (None, None, None, 3)
    for height, width in [(lite.MIN_SIZE, lite.MIN_SIZE), (37, 61)]:
        assert architecture(np.zeros((1, height, width, 3), np.float32)).shape == (1, 1000)


def test_weighted_layers_match_the_pytorch_parameter_count(architecture):
    # 4,652,008 trainable parameters, as EfficientNet-Lite0 is published.
    trainable = sum(int(np.prod(w.shape)) for w in architecture.trainable_weights)
    assert trainable == 4_652_008


def test_activations_are_relu6(architecture):
    activations = [layer for layer in architecture.layers if layer.name.endswith("activation")]
    assert len(activations) == 2 + 16 + 15  # stem, top, each block's depthwise, each expansion
    assert all(getattr(layer, "max_value", None) == 6.0 for layer in activations)


def test_preprocess_range():
    x = np.array([0.0, 127 / 255, 1.0], np.float32)
    np.testing.assert_allclose(lite.preprocess(x), [-127 / 128, 0.0, 1.0], atol=1e-6)


def test_gradient_flows_through_preprocess_in_tf_function(architecture):
    import tensorflow as tf

    features = tf.keras.Model(architecture.inputs, architecture.get_layer("block3b_add").output)

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32)])
    def gradient(image01):
        with tf.GradientTape() as tape:
            tape.watch(image01)
            score = tf.reduce_mean(features(lite.preprocess(image01)))
        return tape.gradient(score, image01)

    image = tf.random.stateless_uniform((1, 40, 48, 3), seed=(1, 2))
    grad = gradient(image).numpy()
    assert grad.shape == (1, 40, 48, 3)
    assert np.isfinite(grad).all() and np.abs(grad).max() > 0


def test_missing_parameter_is_a_model_error():
    with pytest.raises(ModelError, match="_conv_stem.weight is missing"):
        lite.keras_weights({})


def test_labels():
    labels = load_imagenet_labels()
    assert len(labels) == len(set(labels)) == 1000
    assert (labels[0], labels[281], labels[285], labels[504], labels[967]) == (
        "tench", "tabby", "Egyptian cat", "coffee mug", "espresso",
    )  # fmt: skip


def test_to_probabilities():
    np.testing.assert_allclose(to_probabilities(np.array([0.0, np.log(3.0)])), [0.25, 0.75])
    assert to_probabilities(np.array([0.2, 0.8])).tolist() == [0.2, 0.8]


def test_missing_weights_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        lite.load_efficientnet_lite0(tmp_path, tmp_path / "nope.pth")


# ---------------------------------------------------------------------------
# The real weights


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """(cache folder, adapter) after a first, converting load."""
    cache = tmp_path_factory.mktemp("cache")
    return cache, lite.load_efficientnet_lite0(cache)


@pytest.fixture(scope="module")
def probe():
    return np.random.default_rng(0).random((1, 64, 80, 3), dtype=np.float32)


def predictions(adapter, images):
    return adapter.model(adapter.preprocess(images), training=False).numpy()


def forbid_conversion(monkeypatch):
    def fail(path):
        raise AssertionError("converted again instead of using the cache")

    monkeypatch.setattr(lite, "load_state_dict", fail)


@pytest.mark.real_model
def test_adapter(converted):
    _, adapter = converted
    assert adapter.name == "efficientnet-lite0"
    assert adapter.default_layer == "block5c_add" and adapter.default_layer in adapter.layer_names()
    assert adapter.min_size == 32
    assert len(adapter.labels) == 1000 and adapter.labels[281] == "tabby"
    assert adapter.layer_info("block5c_add").shape == (None, None, 112)


@pytest.mark.real_model
@pytest.mark.parametrize("name, wanted", [("chelsea.png", CAT_CLASSES), ("coffee.png", COFFEE_CLASSES)])
def test_classifies_samples(converted, name, wanted):
    top5 = classify(converted[1], sample(name), top=5)
    assert len(top5) == 5
    assert {label for label, _ in top5} & wanted, top5
    assert top5[0][0] in wanted
    probabilities = [p for _, p in top5]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1 + 1e-6


@pytest.mark.real_model
def test_reference_preprocessing_beats_imagenet_mean_std(converted):
    from dreamer.classify import centre_square

    model = converted[1].model
    mean, std = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)
    labels = load_imagenet_labels()
    for name, wanted in [("chelsea.png", CAT_CLASSES), ("coffee.png", COFFEE_CLASSES)]:
        image = centre_square(sample(name)[None], 224)
        index = [labels.index(label) for label in wanted]
        lite_mass = to_probabilities(model(lite.preprocess(image)).numpy()[0])[index].sum()
        imagenet_mass = to_probabilities(model((image - mean) / std).numpy()[0])[index].sum()
        assert lite_mass > imagenet_mass, name


@pytest.mark.real_model
def test_second_load_uses_the_cache(converted, probe, monkeypatch):
    cache, first = converted
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 1 and files[0].startswith("efficientnet-lite0-") and files[0].endswith(".weights.h5")

    forbid_conversion(monkeypatch)
    second = lite.load_efficientnet_lite0(cache)

    np.testing.assert_array_equal(predictions(second, probe), predictions(first, probe))
    assert sorted(p.name for p in cache.iterdir()) == files


@pytest.mark.real_model
def test_corrupt_cache_is_replaced(converted, probe, tmp_path, monkeypatch):
    _, first = converted
    cached = lite.cache_path(tmp_path, lite.default_weights_path())
    cached.write_bytes(b"not an HDF5 file")

    adapter = lite.load_efficientnet_lite0(tmp_path)

    np.testing.assert_array_equal(predictions(adapter, probe), predictions(first, probe))
    assert [p.name for p in tmp_path.iterdir()] == [cached.name]
    forbid_conversion(monkeypatch)
    lite.load_efficientnet_lite0(tmp_path)  # the replacement loads


@pytest.mark.real_model
def test_cache_is_keyed_by_content_not_path(converted, probe, tmp_path, monkeypatch):
    """A reinstall (the same file at a new path) reuses the cache; other bytes get their own."""
    cache, _ = converted
    copy = tmp_path / "reinstalled" / "efficientnet-lite0.pth"
    copy.parent.mkdir()
    shutil.copy(lite.default_weights_path(), copy)
    assert lite.cache_path(cache, copy) == lite.cache_path(cache, lite.default_weights_path())
    forbid_conversion(monkeypatch)
    lite.load_efficientnet_lite0(cache, copy)
    changed = tmp_path / "changed.pth"
    changed.write_bytes(copy.read_bytes() + b"\0")
    assert lite.cache_path(cache, changed) != lite.cache_path(cache, copy)


def test_stale_copies_dreamer_wrote_are_found(tmp_path):
    version = lite.CONVERTER_VERSION
    names = {
        "efficientnet-lite0-0123456789ab.weights.h5": True,  # the older, path-keyed name
        f"efficientnet-lite0-v{version + 1}-0123456789abcdef.weights.h5": True,  # another converter
        f"efficientnet-lite0-v{version}-0123456789abcdef.weights.h5": False,  # another source file
        "efficientnet-lite0-mine.weights.h5": False,  # not a name dreamer gives
        "notes.txt": False,
    }
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in lite.stale_cache_files(tmp_path)] == sorted(n for n, stale in names.items() if stale)


@pytest.mark.real_model
def test_converting_removes_stale_copies(probe, tmp_path):
    old = tmp_path / "efficientnet-lite0-0123456789ab.weights.h5"
    kept = tmp_path / "efficientnet-lite0-mine.weights.h5"
    old.write_bytes(b"old")
    kept.write_bytes(b"user")
    lite.load_efficientnet_lite0(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [kept.name, lite.cache_path(tmp_path, lite.default_weights_path()).name])


@pytest.mark.real_model
@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError])
def test_interrupted_save_leaves_no_file(tmp_path, monkeypatch, error):
    import keras

    def save_then_fail(self, filepath, *args, **kwargs):
        Path(filepath).write_bytes(b"half a file")
        raise error("interrupted")

    monkeypatch.setattr(keras.Model, "save_weights", save_then_fail)
    cache = tmp_path / "cache"
    if error is KeyboardInterrupt:
        with pytest.raises(KeyboardInterrupt):
            lite.load_efficientnet_lite0(cache)
    else:  # a full disk: the model still loads, from memory
        assert lite.load_efficientnet_lite0(cache).name == "efficientnet-lite0"
    assert list(cache.iterdir()) == []


@pytest.mark.real_model
def test_unwritable_cache_folder_converts_in_memory(converted, probe, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the cache folder should go")

    adapter = lite.load_efficientnet_lite0(blocker / "cache")

    np.testing.assert_array_equal(predictions(adapter, probe), predictions(converted[1], probe))


@pytest.mark.real_model
def test_assign_weights_checks_shapes():
    model = lite.build_efficientnet_lite0(num_classes=10)
    weights = lite.keras_weights(lite.load_state_dict(lite.default_weights_path()))
    with pytest.raises(ModelError, match="predictions"):
        lite.assign_weights(model, weights)
