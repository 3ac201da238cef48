"""The Keras applications zoo: architectures without weights, weight files made here, no download."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_models import save_photo

from dreamer.cli import main
from dreamer.errors import DreamerError, ModelError
from dreamer.models import REGISTRY, catalog, download, load_model, model_architecture, models_with_layers, zoo
from dreamer.models.preprocessing import scheme

#: keras.applications module of each entry, for its reference preprocess_input.
KERAS_MODULES = {
    "inceptionv3": "inception_v3", "vgg16": "vgg16", "vgg19": "vgg19", "resnet50": "resnet50",
    "mobilenetv2": "mobilenet_v2", "efficientnetb0": "efficientnet", "densenet121": "densenet",
    "xception": "xception",
}


def test_the_zoo_is_registered():
    for name in KERAS_MODULES:
        assert name in REGISTRY
    assert {e.name for e in zoo.ZOO} == set(KERAS_MODULES)


@pytest.mark.parametrize("entry", zoo.ZOO, ids=lambda e: e.name)
def test_preprocessing_matches_keras(entry):
    import keras

    module = getattr(keras.applications, KERAS_MODULES[entry.name])
    x01 = np.random.default_rng(0).random((1, 4, 5, 3)).astype(np.float32)
    expected = np.asarray(module.preprocess_input(x01 * 255.0))
    np.testing.assert_allclose(np.asarray(scheme(entry.preprocessing)(x01)), expected, rtol=1e-5, atol=1e-3)


@pytest.fixture(scope="module")
def names_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("names")


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_registered_model_lists_its_layers_without_weights(name, names_cache):
    adapter = model_architecture(name)
    assert adapter.default_layer in adapter.layer_names()
    shipped = catalog.layer_channels(name)  # the package data: python scripts/generate_layer_names.py renews it
    assert list(shipped.items()) == [(info.name, info.channels) for info in adapter.layer_infos()]
    assert catalog.min_size(name) == adapter.min_size
    info = adapter.layer_info(adapter.default_layer)
    assert info.shape[:2] == (None, None) and info.channels > 0


def test_inceptionv3_has_mixed0_to_mixed10():
    names = model_architecture("inception_v3").layer_names()
    assert [f"mixed{i}" for i in range(11)] == [n for n in names if n.startswith("mixed") and "_" not in n]


@pytest.mark.parametrize("layers, owners", [
    (["mixed4c"], ["inception5h"]),
    (["mixed5"], ["inceptionv3"]),
    (["block4_conv4"], ["vgg19"]),
    (["conv4_block12_concat"], ["densenet121"]),
    (["block1_conv1"], ["vgg16", "vgg19", "xception"]),
    (["nonexistent"], []),
])
def test_models_with_layers(layers, owners, names_cache):
    assert models_with_layers(layers, names_cache) == owners


def test_a_layer_of_several_models_needs_model(names_cache):
    from dreamer.models import model_for_layers

    with pytest.raises(DreamerError, match="several models .*vgg16.*--model"):
        model_for_layers(["block1_conv1"], names_cache, print)
    said = []
    assert model_for_layers(["block5c_add"], names_cache, said.append) is None and not said
    assert model_for_layers(["mixed5"], names_cache, said.append) == "inceptionv3"
    assert "using inceptionv3" in said[-1]


# --- weights: a tiny stand-in for the Keras constructor, its files written here --------------

def tiny_application(include_top: bool, size: int = 224):
    import keras

    shape = (size, size, 3) if include_top else (None, None, 3)
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="block1_conv1")(inputs)
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="block4_conv3")(x)
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = keras.layers.Dense(1000, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x)


def save_legacy_weights(model, path):
    """Weights in the legacy .h5 layout of the files Keras publishes."""
    model.save(path)
    return path


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(zoo, "_candidate_dirs", lambda: [zoo.keras_models_dir()])
    monkeypatch.setattr(zoo, "build", lambda entry, include_top=False: tiny_application(include_top, entry.size))
    calls = []

    def offline(url, destination, digest, progress):
        calls.append(url)
        raise download.DownloadError(f"{url}: cannot download (no network in tests)")

    monkeypatch.setattr(zoo, "fetch", offline)
    folder = tmp_path / "keras" / "models"
    folder.mkdir(parents=True)
    return folder, calls


VGG16 = next(e for e in zoo.ZOO if e.name == "vgg16")


def test_headless_file_in_the_keras_cache(keras_home, tmp_path):
    folder, calls = keras_home
    source = tiny_application(False)
    save_legacy_weights(source, folder / VGG16.notop_file)
    adapter = load_model("vgg16", tmp_path / "cache")
    np.testing.assert_array_equal(adapter.model.get_layer("block4_conv3").get_weights()[0],
                                  source.get_layer("block4_conv3").get_weights()[0])
    assert not calls and adapter.default_layer == "block4_conv3"


def test_file_with_head_serves_dreams_and_classify(keras_home, tmp_path):
    folder, calls = keras_home
    source = tiny_application(True)
    save_legacy_weights(source, folder / VGG16.top_file)
    adapter = load_model("vgg16", tmp_path / "cache")
    np.testing.assert_array_equal(adapter.model.get_layer("block1_conv1").get_weights()[0],
                                  source.get_layer("block1_conv1").get_weights()[0])
    assert adapter.classifier_model().output_shape == (None, 1000) and not calls


def test_weights_option_takes_a_local_file(keras_home, tmp_path):
    source = tiny_application(False)
    path = save_legacy_weights(source, tmp_path / "my_copy.h5")
    adapter = load_model("vgg16", tmp_path / "cache", path)
    np.testing.assert_array_equal(adapter.model.get_layer("block4_conv3").get_weights()[1],
                                  source.get_layer("block4_conv3").get_weights()[1])


def test_weights_of_another_network_are_refused(keras_home, tmp_path):
    import keras

    inputs = keras.Input((None, None, 3))
    other = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="only")(inputs))
    path = save_legacy_weights(other, tmp_path / "other.h5")
    with pytest.raises(ModelError, match=f"not vgg16 weights.*{VGG16.notop_file}"):
        load_model("vgg16", tmp_path / "cache", path)


def test_offline_without_the_file_names_it(keras_home, tmp_path):
    folder, calls = keras_home
    with pytest.raises(ModelError) as info:
        load_model("vgg16", tmp_path / "cache")
    message = str(info.value)
    for text in (VGG16.notop_file, VGG16.url(VGG16.notop_file), str(folder), "--weights"):
        assert text in message
    assert calls == [VGG16.url(VGG16.notop_file)]
    assert list(folder.iterdir()) == []


def test_cli_layers_vgg16_lists_blocks_and_source(runner):
    result = runner.invoke(main, ["layers", "--model", "vgg16"])
    assert result.exit_code == 0
    names = [line.split()[-3] for line in result.output.splitlines() if "?x?x" in line]
    assert names[:3] == ["block1_conv1", "block1_conv2", "block1_pool"]
    assert "* block4_conv3" in result.output
    assert VGG16.url(VGG16.notop_file) in result.output


def test_cli_dream_and_classify_with_a_zoo_model(runner, keras_home, tmp_path):
    folder, _ = keras_home
    save_legacy_weights(tiny_application(True), folder / VGG16.top_file)
    save_photo(tmp_path / "a.png")
    result = runner.invoke(main, ["--model", "vgg16", "-i", "2", "--octaves", "1", "--seed", "2", "a.png"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "outputs" / "a_vgg16_block4_conv3.png").exists()
    result = runner.invoke(main, ["classify", "--model", "vgg16", "-k", "3", "a.png"])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 4 and "%" in result.output


def test_cli_classify_offline_is_a_clear_error(runner, keras_home, tmp_path):
    folder, _ = keras_home
    save_legacy_weights(tiny_application(False), folder / VGG16.notop_file)
    save_photo(tmp_path / "a.png")
    result = runner.invoke(main, ["classify", "--model", "vgg16", "a.png"])
    assert result.exit_code == 2
    assert VGG16.top_file in result.output and "Traceback" not in result.output


def test_cli_models_lists_every_registered_model_without_tensorflow():
    import subprocess
    import sys

    code = ("import sys; from click.testing import CliRunner; from dreamer.cli import main; "
            "r = CliRunner().invoke(main, ['models']); print(r.output); print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for spec in REGISTRY.values():
        assert f"{spec.name}" in out and spec.default_layer in out
    assert "googlenet" in out and out.strip().endswith("False")


@pytest.mark.parametrize("name", ["inceptionv3", "vgg16"])
def test_min_size_is_accepted_by_the_architecture(name):
    adapter = model_architecture(name)
    size = adapter.min_size
    features = adapter.feature_model([adapter.default_layer])(np.zeros((1, size, size, 3), np.float32))
    assert all(d > 0 for d in features[adapter.default_layer].shape[1:3])
    if size > 32:  # and one pixel less is too small for the valid-padded stem
        with pytest.raises(Exception):  # noqa: B017 - Keras' error type for a too-small input varies
            adapter.feature_model([adapter.layer_names()[-1]])(np.zeros((1, size - 1, size - 1, 3), np.float32))
