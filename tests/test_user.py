"""dreamer.models.user: your own networks (.keras, .h5, SavedModel; safe mode, grayscale, nested, fixed size)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from tiny_models import save_photo, tiny_conv_model

from dreamer.cli import main
from dreamer.errors import ModelError, UnsafeFileError
from dreamer.models import load_model
from dreamer.models.preprocessing import parse_scheme, scheme


def conv(filters, name, stride=1, seed=0):
    import keras

    return keras.layers.Conv2D(filters, 3, strides=stride, padding="same", activation="relu", name=name,
                               kernel_initializer=keras.initializers.GlorotUniform(seed=seed))


def classifier(size=None, channels=3, classes=3, flatten=False):
    """conv1 -> conv2 -> (Flatten | GAP) -> Dense(classes)."""
    import keras

    inputs = keras.Input((size, size, channels), name="pixels")
    x = conv(4, "conv1", seed=1)(inputs)
    x = conv(6, "conv2", stride=2, seed=2)(x)
    x = keras.layers.Flatten()(x) if flatten else keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(classes, name="head", kernel_initializer=keras.initializers.GlorotUniform(seed=3))(x)
    return keras.Model(inputs, x, name="clf")


def nested_model():
    """A 'backbone' functional model used as a layer inside the user's model."""
    import keras

    inner_in = keras.Input((None, None, 3))
    inner = keras.Model(inner_in, conv(6, "block2_out", 2, seed=5)(conv(4, "block1_out", seed=4)(inner_in)),
                        name="backbone")
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 255.0, name="rescale")(inputs)
    x = inner(x)
    x = conv(8, "top_conv", seed=6)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(x), name="mine")


def lambda_model():
    import keras

    inputs = keras.Input((None, None, 3))
    x = keras.layers.Lambda(lambda v: v * 2.0, name="double")(inputs)
    return keras.Model(inputs, conv(4, "after")(x))


def short(*args):
    return ["-i", "2", "--octaves", "2", "--seed", "5", *args]


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_lambda_is_refused_unless_unsafe_load(runner, tmp_path, suffix):
    path = tmp_path / f"lam{suffix}"
    lambda_model().save(path)
    save_photo(tmp_path / "a.png")
    result = runner.invoke(main, ["--model", str(path), *short("a.png")])
    assert result.exit_code == 2 and "--unsafe-load" in result.output and "Traceback" not in result.output
    with pytest.raises(UnsafeFileError):
        load_model(path, tmp_path)
    result = runner.invoke(main, ["--model", str(path), "--unsafe-load", *short("a.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "outputs" / "a_lam_after.png").exists()


def test_legacy_h5_model_dreams_from_the_cli(runner, tmp_path):
    path = tmp_path / "tiny.h5"
    tiny_conv_model().save(path)
    save_photo(tmp_path / "a.png")
    result = runner.invoke(main, ["--model", str(path), "--preprocess", "unit", "--layer", "conv2", *short("a.png")])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "outputs" / "a_tiny_conv2.png").size == (64, 48)


def test_savedmodel_folder_is_frozen_and_dreamed(runner, tmp_path):
    folder = tmp_path / "exported"
    model = classifier()
    model.export(folder, verbose=False)
    adapter = load_model(folder, tmp_path, preprocess="unit")
    names = adapter.layer_names()
    assert any(n.endswith("conv1_1") or n.endswith("conv1") for n in names), names
    conv2 = next(n for n in names if "conv2" in n)
    x = np.random.default_rng(1).random((1, 20, 28, 3)).astype(np.float32)
    got = adapter.feature_model([conv2])(adapter.preprocess(x))[conv2]
    expected = model.get_layer("conv2").output
    import keras

    reference = keras.Model(model.inputs[0], expected)(x)
    np.testing.assert_allclose(np.asarray(got), np.asarray(reference), rtol=1e-4, atol=1e-5)
    save_photo(tmp_path / "a.png")
    result = runner.invoke(main, ["--model", str(folder), "--layer", conv2, *short("a.png", "-o", "r.png")])
    assert result.exit_code == 0, result.output
    (tmp_path / "labels.txt").write_text("cat\ndog\nfish\n")
    result = runner.invoke(main, ["classify", "--model", str(folder), "--labels", "labels.txt", "a.png"])
    assert result.exit_code == 0, result.output
    assert {"cat", "dog", "fish"} <= set(result.output.split())


@pytest.mark.parametrize("name, message", [
    ("bad.keras", "not a .keras file"),
    ("bad.h5", "cannot load model"),
    ("bad.onnx", "not a model file"),
])
def test_damaged_model_files_are_one_line_errors(runner, tmp_path, name, message):
    (tmp_path / name).write_text("garbage")
    result = runner.invoke(main, ["layers", "--model", name])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_folder_that_is_not_a_savedmodel(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="not a SavedModel"):
        load_model(tmp_path / "empty", tmp_path)


def test_savedmodel_without_signature_is_a_clear_error(tmp_path):
    import tensorflow as tf

    module = tf.Module()
    module.v = tf.Variable(1.0)
    tf.saved_model.save(module, str(tmp_path / "bare"))
    with pytest.raises(ModelError, match="no serving_default signature.*model.keras"):
        load_model(tmp_path / "bare", tmp_path)


def test_grayscale_model_gets_gray_input_and_result_stays_rgb(runner, tmp_path):
    path = tmp_path / "gray.keras"
    classifier(channels=1).save(path)
    adapter = load_model(path, tmp_path, preprocess="unit")
    x = np.random.default_rng(2).random((1, 8, 8, 3)).astype(np.float32)
    gray = np.asarray(adapter.preprocess(x))
    assert gray.shape == (1, 8, 8, 1) and adapter.input_channels == 1
    np.testing.assert_allclose(gray[..., 0], x.mean(axis=-1), rtol=1e-5)
    save_photo(tmp_path / "a.png")
    result = runner.invoke(main, ["--model", str(path), "--preprocess", "unit", *short("a.png", "-o", "r.png")])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "r.png").mode == "RGB"


def test_nested_model_layers_are_listed_and_dreamable(runner, tmp_path):
    from dreamer.api import objective_gradient
    from dreamer.objectives import combine

    path = tmp_path / "nested.keras"
    nested_model().save(path)
    adapter = load_model(path, tmp_path)
    names = adapter.layer_names()
    assert names[:4] == ["rescale", "backbone/block1_out", "backbone/block2_out", "backbone"]
    assert "top_conv" in names
    objective = combine({"backbone/block1_out": 1.0, "top_conv": 0.5})
    grad, loss = objective_gradient(adapter, objective)(np.full((20, 24, 3), 0.5, np.float32))
    assert loss > 0 and np.abs(grad).sum() > 0
    save_photo(tmp_path / "a.png")
    result = runner.invoke(main, ["--model", str(path), "--layer", "backbone/block2_out", *short("a.png")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["layers", "--model", str(path)])
    assert "backbone/block1_out" in result.output


@pytest.mark.parametrize("flatten", [False, True], ids=["gap-head", "flatten-head"])
def test_fixed_size_model_dreams_at_any_size_and_classifies_at_its_own(runner, tmp_path, flatten):
    path = tmp_path / "fixed.keras"
    model = classifier(size=32, flatten=flatten)
    model.save(path)
    adapter = load_model(path, tmp_path, preprocess="unit")
    assert adapter.classify_size == 32
    assert adapter.layer_info("conv2").shape == (None, None, 6)
    x = np.random.default_rng(3).random((1, 40, 56, 3)).astype(np.float32)
    features = adapter.feature_model(["conv2"])(adapter.preprocess(x))
    assert tuple(features["conv2"].shape) == (1, 20, 28, 6)
    # the rebuilt copy has the same weights: equal activations on a 32x32 input
    import keras

    small = x[:, :32, :32]
    reference = keras.Model(model.inputs[0], model.get_layer("conv2").output)(small)
    np.testing.assert_allclose(np.asarray(adapter.feature_model(["conv2"])(small)["conv2"]),
                               np.asarray(reference), rtol=1e-5, atol=1e-6)
    save_photo(tmp_path / "a.png")
    (tmp_path / "labels.txt").write_text("ant\nbee\ncow\n")
    result = runner.invoke(main, ["--model", str(path), "--preprocess", "unit", *short("a.png")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["classify", "--model", str(path), "--preprocess", "unit",
                                  "--labels", "labels.txt", "-k", "3", "a.png"])
    assert result.exit_code == 0, result.output
    assert sorted(line.split()[-1] for line in result.output.splitlines()[1:]) == ["ant", "bee", "cow"]


def test_classify_without_labels_or_with_wrong_count(runner, tmp_path):
    path = tmp_path / "clf.keras"
    classifier().save(path)
    save_photo(tmp_path / "a.png")
    result = runner.invoke(main, ["classify", "--model", str(path), "a.png"])
    assert result.exit_code == 2 and "--labels" in result.output
    (tmp_path / "two.txt").write_text("a\nb\n")
    result = runner.invoke(main, ["classify", "--model", str(path), "--labels", "two.txt", "a.png"])
    assert result.exit_code == 1 and "not one score for each of its 2 labels" in result.output


def test_weights_option_is_refused_for_a_model_file(runner, tmp_path):
    path = tmp_path / "clf.keras"
    classifier().save(path)
    (tmp_path / "w.h5").write_bytes(b"x")
    result = runner.invoke(main, ["layers", "--model", str(path), "--weights", "w.h5"])
    assert result.exit_code == 2 and "--weights is for registered models" in result.output


@pytest.mark.parametrize("text, pixel", [
    ("none", [255.0, 127.5, 0.0]),
    ("unit", [1.0, 0.5, 0.0]),
    ("tf", [1.0, 0.0, -1.0]),
    ("caffe", [0.0 - 103.939, 127.5 - 116.779, 255.0 - 123.68]),
    ("torch", [(255 - 123.675) / 58.395, (127.5 - 116.28) / 57.12, (0 - 103.53) / 57.375]),
    ("mean=10,20,30;std=2", [122.5, 53.75, -15.0]),
])
def test_preprocess_schemes(text, pixel):
    x = np.array([[[[1.0, 0.5, 0.0]]]], np.float32)
    np.testing.assert_allclose(np.asarray(scheme(text)(x))[0, 0, 0], pixel, rtol=1e-5)


@pytest.mark.parametrize("text", ["mean=1,2", "mean=1,2,3;std=0,1,1", "hsv"])
def test_bad_preprocess_forms(text):
    with pytest.raises(ModelError):
        parse_scheme(text)


def test_fixed_size_nested_backbone_with_flatten_head(tmp_path):
    import keras

    inner_in = keras.Input((24, 24, 3))
    inner = keras.Model(inner_in, conv(5, "feat", 2, seed=7)(conv(3, "stem", seed=8)(inner_in)), name="backbone")
    inputs = keras.Input((24, 24, 3))
    x = keras.layers.Flatten()(inner(inputs))
    path = tmp_path / "nested_fixed.keras"
    keras.Model(inputs, keras.layers.Dense(2, name="head")(x)).save(path)
    adapter = load_model(path, tmp_path)
    assert adapter.layer_names() == ["backbone/stem", "backbone/feat", "backbone"]
    features = adapter.feature_model(["backbone/feat"])(np.ones((1, 30, 42, 3), np.float32))
    assert tuple(features["backbone/feat"].shape) == (1, 15, 21, 5)


def test_api_unsafe_load(tmp_path, photo):
    from dreamer.api import Dreamer, dream

    path = tmp_path / "lam.keras"
    lambda_model().save(path)
    with pytest.raises(UnsafeFileError, match="--unsafe-load"):
        Dreamer(path, cache_dir=tmp_path)
    dreamer = Dreamer(path, unsafe_load=True, cache_dir=tmp_path)
    assert dreamer.adapter.layer_names() == ["double", "after"]
    result = dream((photo * 255).astype(np.uint8), model=str(path), unsafe_load=True, iterations=1, octaves=1,
                   seed=0, cache_dir=tmp_path)
    assert result.size == (64, 48)


def test_a_class_of_a_fixed_size_head_on_a_photo_of_another_size_is_one_line(runner, tmp_path):
    """The head's Dense layer fits its trained size only: the dream stops with one line, no traceback."""
    classifier(size=16, flatten=True).save(tmp_path / "flat.keras")
    save_photo(tmp_path / "photo.png", size=(40, 40))
    result = runner.invoke(main, ["--model", "flat.keras", "--class", "1", "-i", "1", "--octaves", "1",
                                  "photo.png", "-o", "out.png"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: photo.png: the network cannot run on a 40x40 image"), result.output
    assert "Traceback" not in result.output and not (tmp_path / "out.png").exists()
