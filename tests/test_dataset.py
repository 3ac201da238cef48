"""dreamer.dataset: receptive fields (exact, against the gradient), the running ranking, the cache, examples()."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tiny_models import red_square_folder, redness_model

from dreamer.dataset.rank import RunningTop
from dreamer.dataset.receptive import Axis, receptive_field
from dreamer.errors import DreamerError, ModelError


def field_network():
    """Linear layers with all-ones kernels: the input pixels that move an output position are exactly its field."""
    import keras

    ones = keras.initializers.Constant(1.0)
    conv = dict(kernel_initializer=ones, use_bias=False)
    inputs = keras.Input((None, None, 1), name="pixels")
    x = keras.layers.ZeroPadding2D(((1, 2), (0, 1)), name="pad")(inputs)
    x = keras.layers.Conv2D(2, 3, strides=2, padding="same", name="c1", **conv)(x)
    x = keras.layers.DepthwiseConv2D(5, padding="valid", name="dw", depthwise_initializer=ones,
                                     use_bias=False)(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.AveragePooling2D(2, strides=2, padding="same", name="pool")(x)
    a = keras.layers.Conv2D(1, 1, name="left", **conv)(x)
    b = keras.layers.Conv2D(1, 3, padding="same", name="right", **conv)(x)
    x = keras.layers.Add(name="add")([a, b])
    x = keras.layers.Conv2D(1, (3, 2), strides=(1, 2), padding="same", name="last", **conv)(x)
    return keras.Model(inputs, x)


def gradient_support(model, layer, size, row, col):
    """(left, top, right, bottom) of the input pixels with a non-zero gradient of the layer's (row, col), or
    None where there are none (a position that sees only padding)."""
    import keras
    import tensorflow as tf

    sub = keras.Model(model.inputs[0], model.get_layer(layer).output)
    image = tf.Variable(np.ones((1, *size, 1), np.float32))
    with tf.GradientTape() as tape:
        value = sub(image, training=False)[0, row, col, 0]
    rows, cols = np.nonzero(tape.gradient(value, image).numpy()[0, :, :, 0])
    if not len(rows):
        return None
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


@pytest.mark.parametrize("size", [(21, 26), (24, 19)])
@pytest.mark.parametrize("layer", ["c1", "dw", "pool", "add", "last"])
def test_the_receptive_field_is_exactly_where_the_gradient_reaches(layer, size):
    import keras

    model = field_network()
    field = receptive_field(model, layer, size)
    out = keras.Model(model.inputs[0], model.get_layer(layer).output)(np.zeros((1, *size, 1), np.float32)).shape[1:3]
    assert (field.rows.length, field.cols.length) == tuple(out)
    for row, col in {(0, 0), (out[0] - 1, out[1] - 1), (out[0] // 2, out[1] // 2), (0, out[1] - 1)}:
        box = field.box(row, col)
        seen = box if box[0] < box[2] and box[1] < box[3] else None
        assert seen == gradient_support(model, layer, size, row, col), (layer, row, col)


def test_max_pooling_cropping_and_dilation_move_the_field_by_their_arithmetic():
    import keras

    inputs = keras.Input((None, None, 3))
    x = keras.layers.MaxPooling2D(3, strides=2, padding="valid", name="pool")(inputs)
    x = keras.layers.Cropping2D(((1, 0), (2, 1)), name="crop")(x)
    x = keras.layers.Conv2D(2, 3, dilation_rate=2, padding="same", name="dilated")(x)
    model = keras.Model(inputs, x)
    field = receptive_field(model, "crop", (15, 15))
    assert field.rows == Axis(length=6, start=2, jump=2, size=3)
    assert field.cols == Axis(length=4, start=4, jump=2, size=3)
    dilated = receptive_field(model, "dilated", (15, 15))  # a 5-wide window, 2 before: 4 input pixels further out
    assert dilated.rows == Axis(length=6, start=-2, jump=2, size=11)


def test_a_layer_without_spatial_extent_has_no_field(tiny_classifier):
    with pytest.raises(ModelError, match="no spatial extent"):
        receptive_field(tiny_classifier, "predictions", (32, 32))


def test_upsampling_is_refused_by_name():
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.UpSampling2D(name="up")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="conv")(x))
    with pytest.raises(ModelError, match="'up'"):
        receptive_field(model, "conv", (8, 8))


def test_the_running_top_k_equals_a_full_sort():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(50, 4))
    top, bottom = RunningTop(5, 4), RunningTop(5, 4, largest=False)
    for start in range(0, 50, 7):
        ids = np.arange(start, min(50, start + 7))
        top.update(scores[ids], ids)
        bottom.update(scores[ids], ids)
    for c in range(4):
        assert list(top.ids[c]) == list(np.argsort(-scores[:, c])[:5])
        assert list(bottom.ids[c]) == list(np.argsort(scores[:, c])[:5])
        assert np.allclose(top.scores()[c], np.sort(scores[:, c])[::-1][:5])


@pytest.fixture(scope="module")
def red_model():
    return redness_model()


@pytest.fixture
def red_folder(tmp_path):
    return red_square_folder(tmp_path / "photos", count=7)


def test_the_redness_channel_ranks_the_folder_from_reddest_down_and_its_patch_is_the_red_square(
        red_model, red_folder, tmp_path):
    from dreamer.dataset import examples

    found = examples(red_model, red_folder[0][0].parent, "red2", [0], k=7, size=64, cache_dir=tmp_path / "cache",
                     output=tmp_path / "out")
    (channel,) = found
    assert [e.path for e in channel.top] == [path for path, _ in red_folder]
    assert [e.path for e in channel.bottom] == [path for path, _ in red_folder][::-1]
    patch = channel.patches[0]
    assert patch.path == red_folder[0][0]
    left, top, right, bottom = red_folder[0][1]
    assert left <= patch.box[0] and top <= patch.box[1] and patch.box[2] <= right and patch.box[3] <= bottom
    assert (patch.box[2] - patch.box[0], patch.box[3] - patch.box[1]) == (7, 7)
    record = json.loads((tmp_path / "out" / "examples.json").read_text())
    assert record["channels"][0]["top"][0]["path"] == str(red_folder[0][0])
    assert (tmp_path / "out" / "red2_0.png").is_file()


def test_other_channels_of_a_cached_layer_run_nothing_and_an_interrupted_pass_resumes(red_model, red_folder,
                                                                                      tmp_path):
    from dreamer.dataset.collect import collect, find_pictures
    from dreamer.dataset.examples import ExamplesRequest, find_examples, store_for
    from dreamer.models import adapter_for_keras

    adapter = adapter_for_keras(red_model, "redness", "unit")
    pictures = find_pictures(red_folder[0][0].parent)
    store = store_for(adapter, tmp_path / "cache", 64)
    request = ExamplesRequest(("red1", "red2"), batch=3, size=64)

    def stop_after_first_batch(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        collect(adapter, pictures, request.layers, store, request, stop_after_first_batch)
    assert collect(adapter, pictures, request.layers, store, request) == len(pictures) - 3
    assert collect(adapter, pictures, request.layers, store, request) == 0
    calls = []
    found = find_examples(adapter, pictures, request, store, lambda *a: calls.append(a))
    assert not calls and len(found) == 2 * 4  # every channel of both layers: the 8 most active of 4


@pytest.mark.parametrize("kwargs, message", [
    ({"layers": "red2", "channels": [4]}, "channel 4 is out of range"),
    ({"layers": "nope"}, "unknown layer 'nope'"),
    ({"layers": "red2", "channels": [0], "most_active": 2}, "give one of"),
])
def test_bad_requests_fail_before_any_image_runs(red_model, red_folder, tmp_path, kwargs, message):
    from dreamer.dataset import examples

    with pytest.raises(DreamerError, match=message):
        examples(red_model, red_folder[0][0].parent, cache_dir=tmp_path / "cache", **kwargs)
    assert not (tmp_path / "cache" / "activations").exists()


def test_a_folder_without_images_is_refused(tmp_path):
    from dreamer.dataset.collect import find_pictures

    (tmp_path / "notes.txt").write_text("no pictures here")
    with pytest.raises(DreamerError, match="no images"):
        find_pictures(tmp_path)
