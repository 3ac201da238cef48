"""Receptive fields: which input pixels a position of a layer's map sees, computed from the Keras graph.

``receptive_field(model, layer_name, (height, width))`` walks the functional
graph from the model's input to the layer's output, layer by layer, and
returns a ``Field``: for each axis the input position of the first pixel that
output position 0 sees (``start``, negative where padding is seen), the
step between neighbouring output positions (``jump``, the product of the
strides) and the span (``size``). Each axis is followed at the concrete
input length, because ``padding="same"`` pads by an amount that depends on
it (TensorFlow puts the odd pixel after: ``pad_before = total // 2``).

Layers understood: convolutions (``Conv``, ``DepthwiseConv``,
``SeparableConv``; kernel, stride, dilation, padding), pooling
(``MaxPooling``, ``AveragePooling``), ``ZeroPadding2D``, ``Cropping2D``;
layers that keep the map's size (activations, normalisation, dropout,
rescaling...) pass the field on; merges (``Add``, ``Concatenate``,
``Multiply``...) take the union of their inputs' fields. Anything else that
changes the map's size (upsampling, a transposed convolution, a reshape)
is refused with a ModelError, as is a layer without spatial extent.
"""

from __future__ import annotations

from dataclasses import dataclass

from dreamer.errors import ModelError


@dataclass(frozen=True)
class Axis:
    """One axis of a map: its length, and the receptive field of its position ``i`` on the input:
    ``[start + i * jump, start + i * jump + size)``."""

    length: int
    start: int = 0
    jump: int = 1
    size: int = 1

    def span(self, index: int, limit: int) -> tuple[int, int]:
        """Position ``index``'s field, clipped to ``[0, limit)``: (first, past the last)."""
        first = self.start + index * self.jump
        return max(0, first), min(limit, first + self.size)


@dataclass(frozen=True)
class Field:
    """A layer's receptive field on an input of ``input_size`` (height, width); ``rows`` and ``cols`` its axes."""

    rows: Axis
    cols: Axis
    input_size: tuple[int, int]

    def box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """The input box (left, top, right, bottom; right and bottom excluded) that position (row, col) sees."""
        top, bottom = self.rows.span(row, self.input_size[0])
        left, right = self.cols.span(col, self.input_size[1])
        return left, top, right, bottom


#: Layers that keep the map's size and each position's field (checked: their output length must match).
_SIZE_KEEPING = ("Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "BatchNormalization",
                 "LayerNormalization", "GroupNormalization", "Normalization", "Rescaling", "Dropout",
                 "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "Identity", "Lambda", "TFOpLambda")
_MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate")


def receptive_field(model, layer_name: str, input_size: tuple[int, int]) -> Field:
    """The receptive field of ``layer_name``'s map on an input of ``input_size`` (height, width).

    Raises:
        ModelError: the layer's output has no spatial extent, or a layer on
            the way changes the map's size in a way not understood here.
    """
    try:
        output = model.get_layer(layer_name).output
    except ValueError as exc:
        raise ModelError(f"no layer {layer_name!r} in the model") from exc
    if len(output.shape) != 4:
        raise ModelError(f"layer {layer_name!r} has no spatial extent (its output is {tuple(output.shape)}), "
                         f"so it has no patches: choose a layer with a 4-D output")
    inputs = {id(tensor): tensor for tensor in model.inputs}
    memo: dict[int, tuple[Axis, Axis]] = {}
    rows, cols = _field_of(output, inputs, input_size, memo)
    return Field(rows, cols, tuple(input_size))


def _field_of(tensor, inputs: dict, input_size: tuple[int, int], memo: dict) -> tuple[Axis, Axis]:
    """(rows, cols) of a symbolic tensor, following its history back to the model's input (memoised)."""
    key = id(tensor)
    if key in memo:
        return memo[key]
    if key in inputs:
        result = (Axis(input_size[0]), Axis(input_size[1]))
    else:
        layer, node_index, _ = tensor._keras_history
        node = layer._inbound_nodes[node_index]
        parents = [_field_of(t, inputs, input_size, memo) for t in node.input_tensors if len(t.shape) == 4]
        if not parents:
            raise ModelError(f"layer {layer.name!r} has no image-like input, so its field can't be followed")
        result = tuple(layer_axis(layer, [p[axis] for p in parents], axis) for axis in (0, 1))
    memo[key] = result
    return result


def layer_axis(layer, parents: list[Axis], axis: int) -> Axis:
    """One axis of ``layer``'s output field from its inputs' (``axis``: 0 rows, 1 columns).

    Raises:
        ModelError: a layer that changes the map's size in a way not understood here.
    """
    kind = type(layer).__name__
    parent = parents[0]
    if kind in _MERGES:
        return _union(parents, layer.name)
    if hasattr(layer, "kernel_size") and "Transpose" not in kind:
        dilation = _pair(getattr(layer, "dilation_rate", 1))[axis]
        return _window(parent, _pair(layer.kernel_size)[axis], _pair(layer.strides)[axis], dilation, layer.padding)
    if hasattr(layer, "pool_size") and "Global" not in kind:
        return _window(parent, _pair(layer.pool_size)[axis], _pair(layer.strides)[axis], 1, layer.padding)
    if kind == "ZeroPadding2D":
        before, after = layer.padding[axis]
        return Axis(parent.length + before + after, parent.start - before * parent.jump, parent.jump, parent.size)
    if kind == "Cropping2D":
        before, after = layer.cropping[axis]
        return Axis(parent.length - before - after, parent.start + before * parent.jump, parent.jump, parent.size)
    if kind in _SIZE_KEEPING or _keeps_size(layer):
        return parent
    raise ModelError(f"can't follow the receptive field through layer {layer.name!r} ({kind}): it changes the "
                     f"map's size in a way dreamer does not know")


def _window(parent: Axis, kernel: int, stride: int, dilation: int, padding: str) -> Axis:
    """A sliding window (convolution or pooling) over ``parent``."""
    span = dilation * (kernel - 1) + 1
    if padding == "same":
        length = -(-parent.length // stride)
        before = max((length - 1) * stride + span - parent.length, 0) // 2
    elif padding == "valid":
        length = (parent.length - span) // stride + 1
        before = 0
    else:
        raise ModelError(f"padding {padding!r} is not understood for receptive fields")
    return Axis(length, parent.start - before * parent.jump, parent.jump * stride,
                parent.size + (span - 1) * parent.jump)


def _union(parents: list[Axis], name: str) -> Axis:
    """The field covering all of a merge's inputs (which must step alike)."""
    if len({(p.length, p.jump) for p in parents}) != 1:
        raise ModelError(f"the inputs of merge layer {name!r} have different strides or sizes")
    start = min(p.start for p in parents)
    end = max(p.start + p.size for p in parents)
    return Axis(parents[0].length, start, parents[0].jump, end - start)


def _keeps_size(layer) -> bool:
    """Whether a layer not listed keeps its input's spatial shape (judged on the symbolic shapes, free sizes
    included: a pointwise layer's output has the same H, W entries as its input)."""
    try:
        before = tuple(layer.input.shape)[1:3]
        after = tuple(layer.output.shape)[1:3]
    except (AttributeError, ValueError):
        return False
    return len(layer.output.shape) == 4 and before == after and None not in before


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)
