"""dreamer.models.rewrite: the network rewritten for fast gradients (BatchNorm folding, bfloat16 layers)."""

from __future__ import annotations

import numpy as np
import pytest

from dreamer.api import objective_gradient
from dreamer.errors import DreamerError
from dreamer.models import adapter_for_keras, feature_network
from dreamer.models.rewrite import RewriteError, rewrite_for_gradients
from dreamer.objectives import layer


def conv_bn_model(seed: int = 0):
    """Conv/BN pairs of every kind the rewrite folds, and some it must not."""
    import keras
    from keras import layers

    init = keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input((None, None, 3))
    x = layers.Conv2D(8, 3, padding="same", use_bias=False, kernel_initializer=init, name="c1")(inputs)
    x = layers.BatchNormalization(name="bn1")(x)
    x = layers.ReLU(6.0, name="r1")(x)
    y = layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, depthwise_initializer=init,
                               name="dw")(x)
    y = layers.BatchNormalization(scale=False, name="bn2")(y)
    y = layers.Activation("relu", name="a2")(y)
    shared = layers.Conv2D(16, 1, kernel_initializer=init, name="shared")(y)  # feeds a BN and an Add
    z = layers.BatchNormalization(center=False, name="bn3")(shared)
    out = layers.Add(name="add")([z, shared])
    out = layers.BatchNormalization(name="bn4")(out)  # after an Add: not foldable
    model = keras.Model(inputs, {"a2": y, "out": out})
    rng = np.random.default_rng(seed)
    for bn in (model.get_layer(n) for n in ("bn1", "bn2", "bn3", "bn4")):
        bn.set_weights([
            rng.uniform(0.5, 2.0, w.shape).astype(np.float32) if "variance" in w.path or "gamma" in w.path
            else rng.normal(0.0, 0.3, w.shape).astype(np.float32)
            for w in bn.weights
        ])
    return model


def test_folding_batch_norms_keeps_the_function(photo):
    model = conv_bn_model()
    before = [w.numpy().copy() for w in model.weights]
    fast = rewrite_for_gradients(model, "float32")
    x = photo[None]
    want, got = model(x, training=False), fast(x, training=False)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-5)
    bns = {lay.name for lay in fast.layers if type(lay).__name__ == "BatchNormalization"}
    assert bns == {"bn3", "bn4"}  # bn1 and bn2 folded; bn3's conv is shared, bn4 follows an Add
    for w, b in zip(model.weights, before):
        np.testing.assert_array_equal(w.numpy(), b)  # the user's model is untouched


def test_bfloat16_layers_but_float32_inputs_and_kept_layers():
    fast = rewrite_for_gradients(conv_bn_model(), "bfloat16")
    dtypes = {lay.name: lay.compute_dtype for lay in fast.layers}
    assert dtypes["bn1"] == dtypes["a2"] == "bfloat16"  # bn1: c1 with bn1 folded in
    assert dtypes["bn2"] == dtypes["r1"] == "float32"  # bn2: the depthwise dw; both slow in bfloat16 on CPUs
    assert fast.inputs[0].dtype == "float32"


def test_bfloat16_gradient_matches_float32(tiny_model, photo, bfloat16_kernels):
    adapter = adapter_for_keras(tiny_model, "tiny", "unit")
    full = objective_gradient(adapter, layer("conv3"), "float32")
    half = objective_gradient(adapter, layer("conv3"), "bfloat16")
    assert (full.precision, half.precision) == ("float32", "bfloat16")
    grad32, loss32 = full(photo)
    grad16, loss16 = half(photo)
    assert grad16.dtype == np.float32
    assert np.corrcoef(grad32.ravel(), grad16.ravel())[0, 1] > 0.95
    assert loss16 == pytest.approx(loss32, rel=0.05)


def test_model_that_cannot_be_rewritten(tiny_model):
    import keras

    nested = keras.Sequential([keras.Input((None, None, 3)), tiny_model])
    with pytest.raises(RewriteError):
        rewrite_for_gradients(nested, "float32")
    adapter = adapter_for_keras(tiny_model, "tiny", "unit")
    adapter.feature_model = lambda names: nested  # what an unusual adapter might hand over
    with pytest.raises(DreamerError, match="can't run in bfloat16"):
        feature_network(adapter, ("conv3",), "bfloat16")
    network = feature_network(adapter, ("conv3",), "auto")
    features, precision = network.features, network.precision
    assert features is nested and precision == "float32"


def test_a_layer_that_cannot_be_copied_means_no_rewrite(photo):
    import keras

    class Unregistered(keras.layers.Layer):  # get_config lacks the constructor's argument
        def __init__(self, factor, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return super().get_config()  # forgets ``factor``: from_config can't rebuild the layer

    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, Unregistered(2.0, name="odd")(keras.layers.Conv2D(4, 3, name="c")(inputs)))
    with pytest.raises(RewriteError, match="cannot rewrite"):
        rewrite_for_gradients(model, "float32")
    adapter = adapter_for_keras(model, "odd", "unit")
    gradient = objective_gradient(adapter, layer("odd"), "auto")
    assert gradient.precision == "float32" and np.isfinite(gradient(photo)[0]).all()


def inception_block(seed: int = 0):
    """An Inception-style block: 1x1 siblings on one tensor, one after an average pool, and ones left alone."""
    import keras
    from keras import layers

    init = keras.initializers.GlorotUniform(seed=seed)

    def conv_bn(x, filters, size, name):
        x = layers.Conv2D(filters, size, padding="same", use_bias=False, kernel_initializer=init, name=name)(x)
        x = layers.BatchNormalization(scale=False, name=f"{name}_bn")(x)
        return layers.Activation("relu", name=f"{name}_relu")(x)

    inputs = keras.Input((None, None, 3))
    x = conv_bn(inputs, 12, 3, "stem")
    b1 = conv_bn(x, 4, 1, "b1")
    b2 = layers.Conv2D(3, 1, activation="relu", kernel_initializer=init, name="b2")(x)  # bias, no BatchNorm
    b2 = conv_bn(b2, 5, 3, "b2_3x3")
    pooled = conv_bn(layers.AveragePooling2D(3, strides=1, padding="same", name="pool")(x), 2, 1, "bp")
    wide = layers.AveragePooling2D(3, strides=1, padding="same", name="wide_pool")(b2)
    wide = layers.Conv2D(8, 1, kernel_initializer=init, name="widen")(wide)  # more channels out: pool stays first
    mixed = layers.Concatenate(name="mixed")([b1, b2, pooled, wide])
    head = layers.Conv2D(6, 1, kernel_initializer=init, name="head")(mixed)  # a model output: left alone
    model = keras.Model(inputs, {"mixed": mixed, "head": head})
    rng = np.random.default_rng(seed)
    for bn in (lay for lay in model.layers if isinstance(lay, layers.BatchNormalization)):
        bn.set_weights([rng.uniform(0.5, 2.0, w.shape).astype(np.float32) if "variance" in w.path
                        else rng.normal(0.0, 0.3, w.shape).astype(np.float32) for w in bn.weights])
    return model


def pixel_gradient(model, x, key):
    import tensorflow as tf

    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_mean(tf.square(model(x, training=False)[key]))
    return tape.gradient(loss, x).numpy()


@pytest.mark.tensorflow_only
def test_sibling_pointwise_convolutions_merge_and_pools_move_after_them(photo):
    import keras

    model = inception_block()
    fast = rewrite_for_gradients(model, "float32")
    x = photo[None]
    want, got = model(x, training=False), fast(x, training=False)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-5)
    for key in want:
        grad_want, grad_got = pixel_gradient(model, x, key), pixel_gradient(fast, x, key)
        np.testing.assert_allclose(grad_got, grad_want, rtol=1e-3, atol=1e-6 * np.abs(grad_want).max())
    convs = {lay.name: lay for lay in fast.layers if isinstance(lay, keras.layers.Conv2D)}
    merged = [lay for name, lay in convs.items() if name.endswith("_merged")]
    assert len(merged) == 1 and merged[0].filters == 4 + 3 + 2  # b1, b2 and bp read the stem's output as one
    assert {"b1", "b2", "bp", "b1_bn", "bp_bn"}.isdisjoint(convs)
    assert {"widen", "head", "b2_3x3_bn"} <= set(convs)  # more channels out; a model output; a 3x3 (folded)
    pools = {lay.name: lay._inbound_nodes[0].input_tensors[0].shape[-1]
             for lay in fast.layers if isinstance(lay, keras.layers.AveragePooling2D)}
    assert pools == {"pool": 2, "wide_pool": 5}  # the moved pool averages bp's 2 channels, not the stem's 12
    assert not any(isinstance(lay, keras.layers.BatchNormalization) for lay in fast.layers)


@pytest.mark.tensorflow_only
def test_merged_convolutions_in_bfloat16(photo, bfloat16_kernels):
    model = inception_block()
    fast = rewrite_for_gradients(model, "bfloat16")
    merged = next(lay for lay in fast.layers if lay.name.endswith("_merged"))
    assert merged.compute_dtype == "bfloat16"
    want, got = model(photo[None], training=False), fast(photo[None], training=False)
    got = np.asarray(got["mixed"], np.float32)
    assert np.corrcoef(got.ravel(), np.asarray(want["mixed"]).ravel())[0, 1] > 0.99
