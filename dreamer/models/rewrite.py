"""A feature model rewritten for fast pixel gradients: same function, less work.

``rewrite_for_gradients(model, precision)`` returns a copy of a functional
Keras model (new layers, the same weights) in which

- every BatchNormalization that directly follows a Conv2D or DepthwiseConv2D
  (with no activation, and used by nothing else) is folded into that
  convolution's kernel and bias. At inference a BatchNorm is a per-channel
  ``x * scale + shift``; folding removes one pass over every activation
  forwards and backwards. The result is the same function up to float
  rounding.
- 1x1 convolutions that read the same tensor (an Inception block's
  branches) become one convolution whose output is split, and an average
  pool in front of a 1x1 convolution with fewer output channels moves after
  it (``dreamer.models.siblings`` says which; both are exact identities).
- in float32 on a CPU without AVX-512 (TensorFlow with oneDNN), stride-1
  ``same`` convolutions run as input gradients, where that is faster
  (``dreamer.models.convolution``); a second rewrite, built when an image
  size comes back, runs 3x3, 1x7 and 7x1 convolutions with 64 channels or
  more by Winograd's algorithm (``dreamer.backend.winograd``).
- with ``precision="bfloat16"`` the layers compute in bfloat16 (Keras'
  ``mixed_bfloat16`` policy; Conv2D layers hold their weights in bfloat16
  too, which is what that policy casts them to anyway), except depthwise convolutions
  and ``ReLU`` layers, whose bfloat16 gradients TensorFlow's CPU kernels
  compute several times slower than float32 (measured on EfficientNet-Lite0:
  the depthwise input gradient took 61 ms in bfloat16 against 10 ms in
  float32 at 512 px). The input stays float32; outputs may be bfloat16.

The original model is not changed. A model the rewrite does not understand
(a nested model, a custom layer without ``from_config``) raises
``RewriteError``; the caller decides whether to fall back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from dreamer import backend
from dreamer.errors import DreamerError, ModelError
from dreamer.models.convolution import (
    fits,
    input_gradient_here,
    input_gradient_layer,
    winograd_allowed,
    winograd_fits,
    winograd_layer,
)
from dreamer.models.siblings import merge_groups


class RewriteError(ModelError):
    """The model can't be rewritten (the reason is in the message)."""


def _float32_layer_types():
    """Layers kept in float32 under bfloat16 (see the module docstring)."""
    import keras

    return (keras.layers.DepthwiseConv2D, keras.layers.ReLU)


def rewrite_for_gradients(model, precision: str = "float32", *, convolution: str = "auto"):
    """A copy of ``model`` with BatchNorms folded and, optionally, bfloat16 compute.

    Args:
        model: a functional ``keras.Model`` (its outputs may be a dict).
        precision: ``float32`` or ``bfloat16``.
        convolution: how float32 stride-1 convolutions run: ``direct``;
            ``input-gradient``: ``same`` ones as input gradients (see
            ``dreamer.models.convolution``); ``winograd``: those, and 3x3,
            1x7 and 7x1 ones with 64 channels or more by Winograd's
            algorithm instead (``dreamer.backend.winograd``; TensorFlow
            only; XLA compiles it for each new size, so it pays for sizes
            used again: :attr:`FeatureNetwork.upgrade`); or ``auto``:
            ``input-gradient`` where that is faster (TensorFlow with oneDNN
            on a CPU without AVX-512), else ``direct``.

    Returns:
        A new ``keras.Model`` with the same inputs and outputs structure.

    Raises:
        RewriteError: the model is not functional or has a layer that can't
            be copied.
    """
    import keras

    if not isinstance(model, keras.Model) or not hasattr(model, "_operations"):
        raise RewriteError(f"{type(model).__name__} is not a functional Keras model")
    if isinstance(model, keras.Sequential):
        raise RewriteError("Sequential models are not rewritten")
    if convolution not in ("auto", "direct", "input-gradient", "winograd"):
        raise RewriteError(f"unknown convolution {convolution!r}")
    if convolution == "auto":
        convolution = "input-gradient" if precision == "float32" and input_gradient_here() else "direct"
    convolution = convolution if precision == "float32" else "direct"
    if convolution != "direct" and backend.chosen_name() != "tensorflow":
        raise RewriteError(f"{convolution} convolutions need TensorFlow, not Keras' {backend.chosen_name()} backend")
    try:
        rewriter = _Rewriter(model, precision, convolution=convolution)
        return keras.models.clone_model(model, clone_function=rewriter.clone, call_function=rewriter.call)
    except RewriteError:
        raise
    except Exception as exc:  # noqa: BLE001 - any layer may fail to copy; the caller falls back to the original
        raise RewriteError(f"cannot rewrite model {model.name!r}: {type(exc).__name__}: {exc}") from None


class _Rewriter:
    """The clone and call hooks of ``keras.models.clone_model``."""

    def __init__(self, model, precision: str, convolution: str = "direct"):
        import keras

        if precision not in ("float32", "bfloat16"):
            raise RewriteError(f"unknown precision {precision!r}")
        self.precision = precision
        self.convolution = convolution  # direct, input-gradient or winograd (dreamer.models.convolution)
        self.original = {}  # id(new layer) -> original layer
        self.conv_calls = {}  # id(conv output tensor) -> (new conv, original conv, args, kwargs)
        self.output_layers = {
            id(t._keras_history[0]) for t in keras.tree.flatten(model.outputs)
        }
        self.groups = merge_groups(model, self.output_layers)  # id(original conv) -> its merge group
        self.ends = {id(m.norm): m.conv for group in self.groups.values() for m in group if m.norm is not None}
        self.merged = {}  # id(group) -> the members' outputs, in the group's order
        self.moved_pools = {id(m.pool) for group in self.groups.values() for m in group if m.pool is not None}
        self.pool_inputs = {}  # id(original moved pool) -> the new tensor it read

    def clone(self, layer):
        import keras

        if isinstance(layer, keras.Model):
            raise RewriteError(f"nested model {layer.name!r} is not rewritten")
        config = layer.get_config()
        if self.precision == "bfloat16" and not isinstance(layer, _float32_layer_types()):
            # A convolution also keeps its weights in bfloat16: the very numbers the mixed policy
            # would cast them to at every call, without ~100 casts a step (5% at 187 px).
            config["dtype"] = "bfloat16" if type(layer) is keras.layers.Conv2D else "mixed_bfloat16"
        if self.convolution == "winograd" and winograd_fits(layer):
            new = winograd_layer(config)
        elif self.convolution != "direct" and fits(layer):
            new = input_gradient_layer(config)
        else:
            new = layer.__class__.from_config(config)
        self.original[id(new)] = layer
        return new

    def call(self, layer, *args, **kwargs):
        import keras

        original = self.original[id(layer)]
        if id(original) in self.groups:
            return self._member_output(original, layer.dtype_policy.name, args[0])
        if id(original) in self.ends:  # a BatchNorm folded into a merged convolution
            return self._member_output(self.ends[id(original)], None, None)
        if id(original) in self.moved_pools:  # its output goes unused: the pool moves after the convolution
            self.pool_inputs[id(original)] = args[0]
        if isinstance(layer, keras.layers.BatchNormalization) and args and id(args[0]) in self.conv_calls:
            folded = self._fold(layer, original, *self.conv_calls[id(args[0])])
            if folded is not None:
                return folded
        out = layer(*args, **kwargs)
        if original.weights:
            layer.set_weights(original.get_weights())
        if self._foldable_conv(original):
            self.conv_calls[id(out)] = (layer, original, args, kwargs)
        return out

    def _member_output(self, conv, dtype, x):
        """A merged convolution's part for ``conv`` (building the merged convolution on its first member)."""
        group = self.groups[id(conv)]
        if id(group) not in self.merged:
            member = next(m for m in group if m.conv is conv)
            if member.pool is not None:  # x is the pool's output; the merged convolution reads its input
                x = self.pool_inputs[id(member.pool)]
            self.merged[id(group)] = self._merge(group, x, dtype)
        return self.merged[id(group)][[m.conv for m in group].index(conv)]

    def _merge(self, group, x, dtype: str) -> list:
        """One convolution for the group on ``x``, split per member; moved pools and activations after."""
        import keras

        weights = [_member_weights(m) for m in group]
        kernel = np.concatenate([k for k, _ in weights], axis=-1)
        merged = keras.layers.Conv2D(kernel.shape[-1], 1, dtype=dtype, name=f"{group[0].end.name}_merged")
        y = merged(x)
        merged.set_weights([kernel, np.concatenate([b for _, b in weights])])
        cuts = np.cumsum([k.shape[-1] for k, _ in weights])[:-1].tolist()
        parts = keras.ops.split(y, cuts, axis=-1) if cuts else [y]
        out = []
        for member, part in zip(group, parts):
            if member.pool is not None:
                part = self.clone(member.pool)(part)
            if member.norm is None and member.conv.get_config()["activation"] != "linear":
                part = keras.layers.Activation(member.conv.activation, name=f"{member.conv.name}_activation")(part)
            out.append(part)
        return out

    def _foldable_conv(self, conv) -> bool:
        import keras

        if type(conv) not in (keras.layers.Conv2D, keras.layers.DepthwiseConv2D):
            return False
        config = conv.get_config()
        return (
            config.get("activation") == "linear"
            and config.get("data_format", "channels_last") == "channels_last"
            and len(conv._inbound_nodes) == 1
            and len(conv._outbound_nodes) == 1
            and id(conv) not in self.output_layers
        )

    def _fold(self, bn_layer, bn, conv, conv_original, conv_args, conv_kwargs):
        """The BatchNorm's output computed by one convolution with folded weights, or None."""
        if bn.axis not in (-1, 3) or bn.get_config().get("renorm") or bn.get_config().get("synchronized"):
            return None
        if len(bn._inbound_nodes) != 1:
            return None
        kernel, bias = _folded_weights(conv_original, bn)
        config = conv.get_config()
        config.update(use_bias=True, name=bn.name, dtype=conv.dtype_policy.name)
        config.pop("bias_initializer", None)
        folded = conv.__class__.from_config(config)
        out = folded(*conv_args, **conv_kwargs)
        folded.set_weights([kernel, bias])
        return out


def _member_weights(member) -> tuple[np.ndarray, np.ndarray]:
    """(kernel, bias) of a merge group member's convolution, its BatchNorm folded in, in float32."""
    import keras

    if member.norm is not None:
        return _folded_weights(member.conv, member.norm)
    kernel = keras.ops.convert_to_numpy(member.conv.kernel).astype(np.float32)
    if member.conv.use_bias:
        return kernel, keras.ops.convert_to_numpy(member.conv.bias).astype(np.float32)
    return kernel, np.zeros(kernel.shape[-1], np.float32)


def _folded_weights(conv, bn) -> tuple[np.ndarray, np.ndarray]:
    """(kernel, bias) of ``bn(conv(x))`` as one convolution, in float32."""
    import keras

    def value(variable, default):
        if variable is None:
            return default
        return keras.ops.convert_to_numpy(variable).astype(np.float64)

    mean = value(bn.moving_mean, None)
    variance = value(bn.moving_variance, None)
    gamma = value(bn.gamma, 1.0)
    beta = value(bn.beta, 0.0)
    scale = gamma / np.sqrt(variance + bn.epsilon)
    shift = beta - mean * scale
    kernel = keras.ops.convert_to_numpy(conv.kernel).astype(np.float64)
    conv_bias = keras.ops.convert_to_numpy(conv.bias).astype(np.float64) if conv.use_bias else 0.0
    if type(conv).__name__ == "DepthwiseConv2D":
        kernel = kernel * scale.reshape(kernel.shape[2], kernel.shape[3])
    else:
        kernel = kernel * scale
    bias = conv_bias * scale + shift
    return kernel.astype(np.float32), np.broadcast_to(bias, scale.shape).astype(np.float32)


@dataclass(frozen=True)
class FeatureNetwork:
    """What the engine needs from a model to take gradients: ready to call, nothing to look up.

    Attributes:
        features: preprocessed NHWC input -> {layer name: activation} (or one tensor).
        preprocess: [0, 1] float32 NHWC -> the model's input.
        min_size: the smallest image side the network accepts.
        precision: the arithmetic it runs in, ``"float32"`` or ``"bfloat16"``.
        upgrade: None, or a function building this network with Winograd
            convolutions (``dreamer.backend.winograd``): faster per step
            where it is offered, but XLA compiles it for every new image
            size, so it pays for sizes that come back (the next images of a
            batch, video frames; ``ObjectiveGradient.new_dream``).
        upgrade_seconds: about how long compiling the upgrade takes per
            image size.
    """

    features: Callable
    preprocess: Callable
    min_size: int
    precision: str
    upgrade: Callable[[], "FeatureNetwork"] | None = None
    upgrade_seconds: float = 0.0


def has_depthwise_convolutions(model) -> bool:
    """Whether a Keras model (nested models included) has a depthwise or separable convolution."""
    import keras

    kinds = (keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)
    stack = list(getattr(model, "layers", ()))
    while stack:
        layer = stack.pop()
        if isinstance(layer, kinds):
            return True
        stack.extend(getattr(layer, "layers", ()) if isinstance(layer, keras.Model) else ())
    return False


def feature_network(adapter, layer_names: Sequence[str], precision: str = "float32") -> FeatureNetwork:
    """The adapter's feature model for ``layer_names``, rewritten for speed.

    A model that can't be rewritten is used as it is, in float32, unless
    bfloat16 was asked for explicitly.

    Raises:
        DreamerError: ``precision="bfloat16"`` and the model can't be rewritten,
            or an unknown precision.
    """
    from dreamer.precision import detect_precision

    features = original = adapter.feature_model(layer_names)
    resolved = detect_precision(precision, has_depthwise_convolutions(features))
    try:
        features = rewrite_for_gradients(features, resolved)
    except RewriteError as exc:
        if precision == "bfloat16":
            raise DreamerError(
                f"model {adapter.name!r} can't run in bfloat16 ({exc}); use --precision float32"
            ) from None
        resolved = "float32"
    network = FeatureNetwork(features, adapter.preprocess, adapter.min_size, resolved)
    upgrade = _winograd_upgrade(original, network)
    return network if upgrade is None else replace(network, upgrade=upgrade[0], upgrade_seconds=upgrade[1])


#: XLA's compilation per Winograd convolution and image size, forward and backward (measured on
#: InceptionV3 up to mixed5 with AVX2 kernels: ~19 s for the 4 octave sizes of a dream, 20 layers).
COMPILE_SECONDS_PER_LAYER = 0.25


def _winograd_upgrade(model, network: FeatureNetwork):
    """(a builder of ``network`` with ``model``'s Winograd-shaped convolutions by Winograd, its compile
    seconds per image size), or None.

    Offered where the input-gradient convolutions are chosen (float32,
    TensorFlow with oneDNN, no AVX-512: where Winograd measured faster),
    the model has such a convolution and ``DREAMER_WINOGRAD`` is not 0. A
    model the Winograd rewrite can't handle keeps ``network``.
    """
    if network.precision != "float32" or network.features is model or not input_gradient_here():
        return None
    if not winograd_allowed(os.environ):
        return None
    layers = sum(winograd_fits(layer) for layer in getattr(model, "layers", ()))
    if not layers:
        return None

    def build() -> FeatureNetwork:
        try:
            features = rewrite_for_gradients(model, "float32", convolution="winograd")
        except RewriteError:
            return network
        return FeatureNetwork(features, network.preprocess, network.min_size, "float32")

    return build, COMPILE_SECONDS_PER_LAYER * layers
