"""dreamer.models.convolution and .winograd: same convolutions as input gradients, Winograd's F(4x4, 3x3),
and when they pay."""

from __future__ import annotations

import numpy as np
import pytest

from dreamer.backend import winograd
from dreamer.models.convolution import fits, input_gradient_pays, winograd_fits
from dreamer.models.rewrite import RewriteError, rewrite_for_gradients
from dreamer.precision import capped_flags

AVX2 = {"sse4_2", "avx", "avx2", "fma"}
AVX512 = AVX2 | {"avx512f", "avx512bw"}


@pytest.mark.parametrize(
    "backend, flags, environ, gpus, pays",
    [
        ("tensorflow", AVX2, {}, (), True),  # an AVX2 laptop: forward convolutions run gemm:jit
        ("tensorflow", AVX512, {}, (), False),  # AVX-512: oneDNN's forward already runs brg_conv
        ("tensorflow", capped_flags(AVX512, "AVX2"), {}, (), True),  # ONEDNN_MAX_CPU_ISA=AVX2
        ("tensorflow", capped_flags(AVX512, "avx512_core"), {}, (), False),
        ("tensorflow", capped_flags(AVX2, "SSE41"), {}, (), False),  # no brg_conv below AVX2
        ("tensorflow", AVX2, {"TF_ENABLE_ONEDNN_OPTS": "0"}, (), False),  # Eigen, not oneDNN
        ("tensorflow", AVX2, {}, [(8, 0)], False),  # the network runs on the GPU
        ("tensorflow", {"sse4_2", "avx"}, {}, (), False),
        ("tensorflow", set(), {}, (), False),  # not x86 (or not Linux: no flags)
        ("jax", AVX2, {}, (), False),
        ("torch", AVX2, {}, (), False),
    ],
)
def test_when_input_gradients_pay(backend, flags, environ, gpus, pays):
    assert input_gradient_pays(backend, flags, environ, gpus) is pays


def test_winograd_can_be_turned_off():
    from dreamer.models.convolution import winograd_allowed

    assert winograd_allowed({}) and winograd_allowed({"DREAMER_WINOGRAD": "1"})
    assert not any(winograd_allowed({"DREAMER_WINOGRAD": v}) for v in ("0", "false", "Off", " no "))


def test_which_convolutions_fit():
    import keras

    def conv(**kwargs):
        layer = keras.layers.Conv2D(4, **{"kernel_size": 3, "padding": "same", **kwargs})
        layer.build((None, 8, 8, 3))
        return layer

    assert fits(conv()) and fits(conv(kernel_size=(1, 7))) and fits(conv(kernel_size=5))
    assert not fits(conv(padding="valid"))
    assert not fits(conv(strides=2))
    assert not fits(conv(dilation_rate=2))
    assert not fits(conv(kernel_size=2))  # even: "same" pads one side only
    assert not fits(conv(kernel_size=1))  # a matrix product either way
    assert not fits(keras.layers.DepthwiseConv2D(3, padding="same"))


@pytest.mark.tensorflow_only
def test_input_gradient_convolutions_keep_the_function_and_its_gradients(photo):
    import keras
    import tensorflow as tf
    from test_rewrite import inception_block, pixel_gradient

    model = inception_block()
    fast = rewrite_for_gradients(model, "float32", convolution="input-gradient")
    kinds = {lay.name: type(lay).__name__ for lay in fast.layers if isinstance(lay, keras.layers.Conv2D)}
    assert kinds["stem_bn"] == kinds["b2_3x3_bn"] == "InputGradientConv2D"  # 3x3 same, BatchNorm folded in
    assert kinds["widen"] == kinds["head"] == "Conv2D"  # 1x1
    x = photo[None]
    want, got = model(x, training=False), fast(x, training=False)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-5)
        grad_want, grad_got = pixel_gradient(model, x, key), pixel_gradient(fast, x, key)
        np.testing.assert_allclose(grad_got, grad_want, rtol=1e-3, atol=1e-6 * np.abs(grad_want).max())
    layer = fast.get_layer("stem_bn")  # the weights' gradient is the ordinary one too
    plain = keras.layers.Conv2D.from_config(layer.get_config())
    plain.build(x.shape)
    plain.set_weights(layer.get_weights())
    grads = []
    for conv in (layer, plain):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(conv(tf.constant(x))))
        grads.append(tape.gradient(loss, conv.trainable_weights))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(tf.reduce_max(tf.abs(b))))


def test_direct_convolutions_and_bfloat16_stay_keras_convolutions():
    import keras
    from test_rewrite import inception_block

    for precision, convolution in (("float32", "direct"), ("bfloat16", "input-gradient")):
        fast = rewrite_for_gradients(inception_block(), precision, convolution=convolution)
        assert {type(lay) for lay in fast.layers if isinstance(lay, keras.layers.Conv2D)} == {keras.layers.Conv2D}
    with pytest.raises(RewriteError, match="unknown convolution"):
        rewrite_for_gradients(inception_block(), "float32", convolution="fft")


def correlate(d: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The valid 2-D cross-correlation (what a convolution layer computes) of one channel, plainly."""
    out = np.zeros((d.shape[0] - k.shape[0] + 1, d.shape[1] - k.shape[1] + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(d[i:i + k.shape[0], j:j + k.shape[1]] * k)
    return out


@pytest.mark.parametrize("m, r", [(4, 3), (2, 7), (1, 1), (2, 5)])
def test_winograd_transforms_compute_a_block_of_a_convolution(m, r):
    rng = np.random.default_rng(0)
    b_t, g, a_t = winograd.transforms(m, r)
    assert b_t.shape == (m + r - 1, m + r - 1) and g.shape == (m + r - 1, r) and a_t.shape == (m, m + r - 1)
    d, taps = rng.standard_normal(m + r - 1), rng.standard_normal(r)
    np.testing.assert_allclose(a_t @ ((g @ taps) * (b_t @ d)), correlate(d[None], taps[None])[0], atol=1e-12)


def test_winograd_transforms_in_two_dimensions():
    rng = np.random.default_rng(0)
    for height, width in winograd.KERNELS:
        (b_h, _, a_h), (b_w, _, a_w) = (winograd.transforms(winograd.BLOCKS[t], t) for t in (height, width))
        d, k = rng.standard_normal((b_h.shape[0], b_w.shape[0])), rng.standard_normal((height, width))
        u = winograd.transformed_kernel(k[:, :, None, None]).reshape(d.shape).astype(np.float64)
        y = a_h @ (u * (b_h @ d @ b_w.T)) @ a_w.T
        np.testing.assert_allclose(y, correlate(d, k), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="no Winograd transform for a 5x5 kernel"):
        winograd.transformed_kernel(np.zeros((5, 5, 1, 1)))
    # the input gradient of a valid convolution is the full convolution with the gradient kernel
    kernel = rng.standard_normal((3, 3, 2, 5))
    back = winograd.gradient_kernel(kernel)
    assert back.shape == (3, 3, 5, 2) and back[0, 0, 4, 1] == kernel[2, 2, 1, 4]
    assert winograd.combinations(np.array([[1.0, 0.0, -2.0]])) == [[(0, 1.0), (2, -2.0)]]
    assert winograd.tiles(10, 3) == 2 and winograd.tiles(6, 3) == 1 and winograd.tiles(9, 7) == 2
    assert winograd.tiles(5, 1) == 5


def test_which_convolutions_winograd_takes():
    import keras

    def conv(channels=64, filters=64, dtype="float32", **kwargs):
        layer = keras.layers.Conv2D(filters, **{"kernel_size": 3, "padding": "same", "dtype": dtype, **kwargs})
        layer.build((None, 8, 8, channels))
        return layer

    assert winograd_fits(conv()) and winograd_fits(conv(padding="valid", filters=192, channels=80))
    assert not winograd_fits(conv(channels=32))  # the transforms cost more than they save
    assert not winograd_fits(conv(filters=48))
    assert winograd_fits(conv(kernel_size=(1, 7))) and winograd_fits(conv(kernel_size=(7, 1), filters=192))
    assert not winograd_fits(conv(kernel_size=5)) and not winograd_fits(conv(kernel_size=(1, 3)))
    assert not winograd_fits(conv(strides=2)) and not winograd_fits(conv(dilation_rate=2))
    assert not winograd_fits(conv(dtype="mixed_bfloat16"))
    assert not winograd_fits(keras.layers.Conv2D(64, 3))  # not built: no kernel to read
    assert not winograd_fits(keras.layers.DepthwiseConv2D(3))


def wide_block(seed: int = 0):
    """3x3 convolutions with 64 channels or more (same and valid, BatchNorm folded or not) and narrow ones."""
    import keras
    from keras import layers

    init = keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input((None, None, 3))
    x = layers.Conv2D(64, 3, padding="valid", use_bias=False, kernel_initializer=init, name="narrow_in")(inputs)
    x = layers.BatchNormalization(name="narrow_in_bn")(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(72, 3, padding="valid", kernel_initializer=init, activation="relu", name="wide_valid")(x)
    x = layers.Conv2D(64, 3, padding="same", use_bias=False, kernel_initializer=init, name="wide_same")(x)
    x = layers.BatchNormalization(name="wide_same_bn")(x)
    x = layers.Activation("relu", name="wide_same_relu")(x)
    x = layers.Conv2D(64, (1, 7), padding="same", kernel_initializer=init, activation="relu", name="seven")(x)
    x = layers.Conv2D(16, 5, padding="same", kernel_initializer=init, name="five")(x)
    model = keras.Model(inputs, {"wide": model_output(x), "mid": x})
    rng = np.random.default_rng(seed)
    for bn in (lay for lay in model.layers if isinstance(lay, layers.BatchNormalization)):
        bn.set_weights([rng.uniform(0.5, 2.0, w.shape).astype(np.float32) if "variance" in w.path
                        else rng.normal(0.0, 0.3, w.shape).astype(np.float32) for w in bn.weights])
    return model


def model_output(x):
    import keras

    return keras.layers.Activation("linear", name="out")(x)


@pytest.mark.tensorflow_only
def test_winograd_convolutions_keep_the_function_and_its_gradients(photo):
    import keras
    import tensorflow as tf
    from test_rewrite import pixel_gradient

    model = wide_block()
    fast = rewrite_for_gradients(model, "float32", convolution="winograd")
    kinds = {lay.name: type(lay).__name__ for lay in fast.layers if isinstance(lay, keras.layers.Conv2D)}
    assert kinds["wide_valid"] == kinds["wide_same_bn"] == kinds["seven"] == "WinogradConv2D"  # 64+ channels
    assert kinds["narrow_in_bn"] == "Conv2D"  # 3 channels in: too few, and valid (no input-gradient detour)
    assert kinds["five"] == "InputGradientConv2D"  # other same convolutions as input gradients
    x = np.stack([photo, photo[::-1]])[:, :45, :61]  # sizes that are not whole 4x4 blocks
    want, got = model(x, training=False), fast(x, training=False)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=2e-5 * float(np.abs(want[key]).max()))
        grad_want, grad_got = pixel_gradient(model, x, key), pixel_gradient(fast, x, key)
        np.testing.assert_allclose(grad_got, grad_want, rtol=1e-3, atol=2e-5 * np.abs(grad_want).max())
    layer = fast.get_layer("wide_same_bn")  # the weights' gradient is the ordinary one
    plain = keras.layers.Conv2D.from_config(layer.get_config())
    plain.build((None, None, None, 72))
    plain.set_weights(layer.get_weights())
    h = tf.constant(np.random.default_rng(1).standard_normal((2, 9, 13, 72)).astype(np.float32))
    grads = []
    for conv in (layer, plain):
        with tf.GradientTape() as tape:
            tape.watch(h)
            loss = tf.reduce_sum(tf.square(conv(h)))
        grads.append(tape.gradient(loss, [h, *conv.trainable_weights]))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5 * float(tf.reduce_max(tf.abs(b))))


def test_auto_and_bfloat16_choose_the_convolutions():
    import keras

    import dreamer.models.rewrite as rewrite

    chosen = rewrite.input_gradient_here
    try:
        rewrite.input_gradient_here = lambda: True  # an AVX2 CPU with TensorFlow and oneDNN
        kinds = {type(lay).__name__ for lay in rewrite_for_gradients(wide_block(), "float32").layers
                 if isinstance(lay, keras.layers.Conv2D)}
        assert kinds == {"Conv2D", "InputGradientConv2D"}  # Winograd only as the upgrade (test below)
        kinds = {type(lay).__name__ for lay in rewrite_for_gradients(wide_block(), "bfloat16").layers
                 if isinstance(lay, keras.layers.Conv2D)}
        assert kinds == {"Conv2D"}
        rewrite.input_gradient_here = lambda: False
        kinds = {type(lay).__name__ for lay in rewrite_for_gradients(wide_block(), "float32").layers
                 if isinstance(lay, keras.layers.Conv2D)}
        assert kinds == {"Conv2D"}
    finally:
        rewrite.input_gradient_here = chosen


def test_a_size_that_comes_back_in_a_later_dream_runs_on_the_upgrade(photo):
    from dataclasses import replace

    import keras

    from dreamer.api import Dreamer
    from dreamer.models.rewrite import FeatureNetwork

    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, padding="same", name="out")(inputs))
    gradient = Dreamer(model, "out", loss="mean").gradient
    base = gradient.network
    built = []

    def twice() -> FeatureNetwork:  # stands for the Winograd network: here the same one, doubled
        built.append(1)
        def doubled(x, training=False):
            out = base.features(x, training=training)
            return {k: 2.0 * v for k, v in out.items()} if isinstance(out, dict) else 2.0 * out

        return replace(base, features=doubled)

    gradient.network = replace(base, upgrade=twice)
    small = photo[:24, :32]
    gradient.new_dream()
    first, _ = gradient(photo)
    assert np.allclose(gradient(photo)[0], first) and not built  # the same dream: no compilation
    gradient(small)
    gradient.new_dream()
    np.testing.assert_allclose(gradient(photo)[0], 2 * first, rtol=1e-5)  # its size came back
    np.testing.assert_allclose(gradient(small)[0], 2 * gradient._gradient(small, np.float32(1), np.asarray(
        (0, 0, 24, 32, 24, 32), np.float32))[1], rtol=1e-5)
    gradient.network = replace(gradient.network, upgrade=None)
    np.testing.assert_allclose(gradient(photo)[0], first, rtol=1e-5)  # no upgrade offered: the first network
    gradient.network = replace(base, upgrade=twice)
    new_size = gradient(photo[:40])[0]  # a size not seen before stays on the first network
    gradient.new_dream()
    np.testing.assert_allclose(gradient(photo[:40])[0], 2 * new_size, rtol=1e-5)
    assert built == [1]  # built once
    gradient.network = replace(gradient.network, upgrade_seconds=3600.0)  # until earlier dreams spent an hour
    gradient.new_dream()
    np.testing.assert_allclose(gradient(photo[:40])[0], new_size, rtol=1e-5)


def test_an_upgrade_that_fails_is_dropped(photo):
    from dataclasses import replace

    import keras

    from dreamer.api import Dreamer

    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, padding="same", name="out")(inputs))
    gradient = Dreamer(model, "out", loss="mean").gradient

    def broken():
        raise RuntimeError("XLA is not there")

    gradient.network = replace(gradient.network, upgrade=broken)
    gradient.new_dream()
    first, _ = gradient(photo)
    gradient.new_dream()
    np.testing.assert_allclose(gradient(photo)[0], first, rtol=1e-6)
    assert gradient.network.upgrade is None


@pytest.mark.tensorflow_only
def test_the_winograd_upgrade_is_offered_where_it_pays(monkeypatch):
    import dreamer.models.rewrite as rewrite
    from dreamer.models import adapter_for_keras, feature_network

    adapter = adapter_for_keras(wide_block(), "wide", None)
    chosen = rewrite.input_gradient_here
    try:
        rewrite.input_gradient_here = lambda: False  # AVX-512, a GPU, another backend
        assert feature_network(adapter, ["five"], "float32").upgrade is None
        rewrite.input_gradient_here = lambda: True  # an AVX2 CPU with TensorFlow and oneDNN
        assert feature_network(adapter, ["five"], "bfloat16").upgrade is None
        network = feature_network(adapter, ["five"], "float32")
        upgraded = network.upgrade()
        kinds = {type(lay).__name__ for lay in upgraded.features.layers}
        assert "WinogradConv2D" in kinds and "WinogradConv2D" not in {type(lay).__name__ for lay in
                                                                       network.features.layers}
        assert (upgraded.min_size, upgraded.precision) == (network.min_size, "float32")
        assert network.upgrade_seconds == 3 * rewrite.COMPILE_SECONDS_PER_LAYER  # three Winograd convolutions
        narrow = adapter_for_keras(inception_block_model(), "narrow", None)  # no wide 3x3: nothing to upgrade
        assert feature_network(narrow, ["mixed"], "float32").upgrade is None
        monkeypatch.setenv("DREAMER_WINOGRAD", "0")  # reproducible pixels asked for
        assert feature_network(adapter, ["five"], "float32").upgrade is None
    finally:
        rewrite.input_gradient_here = chosen


def inception_block_model():
    from test_rewrite import inception_block

    return inception_block()
