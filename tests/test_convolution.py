"""dreamer.models.convolution: same convolutions as input gradients, and when that pays."""

from __future__ import annotations

import numpy as np
import pytest

from dreamer.models.convolution import fits, input_gradient_pays
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
        rewrite_for_gradients(inception_block(), "float32", convolution="winograd")
