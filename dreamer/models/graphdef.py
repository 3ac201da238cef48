"""Dreaming with a frozen TensorFlow GraphDef (inception5h, frozen SavedModels).

Contract:

- ``ImportedGraph(graph_def, input_name)`` imports the graph once into a
  ``tf.compat.v1.wrap_function`` whose input is a float32 NHWC tensor of any
  height and width, mapped onto the graph's input. ``tensor_function(names)``
  prunes it to a callable ``x -> {name: tensor}``; gradients flow through it
  (a tensor is fed, never a tf.Variable).
- ``GraphAdapter`` is a ``ModelAdapter`` for such a graph: ``layer_infos()`` lists
  the layers it was given (a static list, so the names are known before the
  graph is), ``layer_info`` also accepts any other 4-D tensor of the graph by
  its op name once the graph is loaded, and ``feature_model`` returns a
  callable with the engine's ``features(x, training=False) -> dict`` contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from dreamer.errors import ModelError, first_line
from dreamer.models.base import LayerInfo, ModelAdapter, unknown_layer_message

#: Op types whose output is worth dreaming on when a graph's layers are listed from the graph itself.
#: ``Concat`` and ``LRN`` are the 2015 graphs' (inception5h's) forms of a block's output and of a norm.
FEATURE_OPS = ("Relu", "Relu6", "Elu", "Selu", "LeakyRelu", "Sigmoid", "Tanh", "Swish", "ConcatV2", "Concat",
               "AddV2", "Add", "MaxPool", "AvgPool", "BiasAdd", "FusedBatchNormV3", "FusedBatchNorm", "LRN",
               "Conv2D", "DepthwiseConv2dNative", "Mul", "Identity")
#: The placeholder ``shapes_at`` feeds; a name no graph of ours uses.
_SHAPE_PROBE = "dreamer_shape_probe"


def read_graph_def(path: Path):
    """Parse a binary GraphDef file.

    Raises:
        ModelError: the file is not a GraphDef.
    """
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(Path(path).read_bytes())
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ModelError(f"{path}: not a TensorFlow GraphDef ({exc})") from None
    if not graph_def.node:
        raise ModelError(f"{path}: the GraphDef is empty")
    return graph_def


class ImportedGraph:
    """A GraphDef imported once, with its input fed by a tensor of any size."""

    def __init__(self, graph_def, input_name: str, channels: int = 3):
        import tensorflow as tf

        names = {node.name for node in graph_def.node}
        if input_name not in names:
            raise ModelError(f"the graph has no input tensor {input_name!r}")

        def imported(x):
            tf.compat.v1.import_graph_def(graph_def, input_map={f"{input_name}:0": x}, name="")

        self._input_spec = tf.TensorSpec([None, None, None, channels], tf.float32)
        try:
            self._wrapped = tf.compat.v1.wrap_function(imported, [self._input_spec])
        except (ValueError, TypeError) as exc:
            raise ModelError(f"cannot import the graph ({first_line(exc)})") from None
        self.graph = self._wrapped.graph
        self._input = self._wrapped.inputs[0]
        self._graph_def, self._input_name, self._channels = graph_def, input_name, channels

    def tensor(self, name: str):
        """The graph's tensor of op ``name`` (first output), or None."""
        try:
            return self.graph.get_tensor_by_name(name if ":" in name else f"{name}:0")
        except (KeyError, ValueError):
            return None

    def feature_tensors(self) -> list:
        """The 4-D float outputs of the graph's feature ops that carry the batch, in graph order.

        A tensor whose batch size is fixed (a convolution kernel, say) does
        not depend on the image and is left out.
        """
        found = []
        for op in self.graph.get_operations():
            if op.type not in FEATURE_OPS or not op.outputs:
                continue
            out = op.outputs[0]
            if out.dtype.is_floating and out.shape.rank == 4 and out.shape[0] is None:
                found.append(out)
        return found

    def shapes_at(self, height: int, width: int, names: Sequence[str]) -> dict[str, tuple]:
        """Each named op's output shape (H, W, C) for one input of ``height`` x ``width``, by shape
        inference; ``()`` for an op the input is too small for (or that is not 4-D)."""
        try:
            return self._infer_shapes(height, width, list(names))
        except ValueError:
            if len(names) == 1:
                return {names[0]: ()}
        half = len(names) // 2
        return {**self.shapes_at(height, width, names[:half]), **self.shapes_at(height, width, names[half:])}

    def _infer_shapes(self, height: int, width: int, names: list[str]) -> dict[str, tuple]:
        import tensorflow as tf

        # Only the part that the names need: a classifier head's fixed reshape fails at other sizes.
        needed = tf.compat.v1.graph_util.extract_sub_graph(self._graph_def, [n.split(":")[0] for n in names])
        graph = tf.Graph()
        with graph.as_default():
            probe = tf.compat.v1.placeholder(tf.float32, [1, height, width, self._channels], name=_SHAPE_PROBE)
            tf.compat.v1.import_graph_def(needed, input_map={f"{self._input_name}:0": probe}, name="")
        shapes = {}
        for name in names:
            shape = graph.get_tensor_by_name(name if ":" in name else f"{name}:0").shape
            shapes[name] = tuple(shape[1:]) if shape.rank == 4 else ()
        return shapes

    def tensor_function(self, names: Sequence[str] | Mapping[str, str]):
        """A callable: NHWC float32 tensor -> {name: that op's output}.

        ``names`` are op names, or a mapping of output key -> op name.
        """
        ops = dict(names) if isinstance(names, Mapping) else {name: name for name in names}
        outputs = {}
        for key, op in ops.items():
            tensor = self.tensor(op)
            if tensor is None:
                raise ModelError(f"the graph has no tensor {op!r}")
            outputs[key] = tensor
        return self._wrapped.prune(self._input, outputs)


class GraphFeatures:
    """The engine's feature extractor over an imported graph: ``f(x, training=False) -> dict``."""

    def __init__(self, function):
        self._function = function

    def __call__(self, x, training: bool = False):
        import tensorflow as tf

        return self._function(tf.convert_to_tensor(x, tf.float32))


@dataclass
class GraphAdapter(ModelAdapter):
    """A ModelAdapter over an ``ImportedGraph`` (``model`` is the graph; None for listing only).

    Attributes:
        static_layers: the layers listed, known without loading the graph.
        classifier_output: the op name of the class scores (logits), or "".
        shape_rule: ``(height, width) -> {layer: (H, W, C)}`` without the
            graph (inception5h's own arithmetic), or None: shape inference
            on the loaded graph.
    """

    static_layers: tuple = ()
    classifier_output: str = ""
    shape_rule: object = None
    _extra: dict = field(default_factory=dict, repr=False)
    _classifier: object = field(default=None, repr=False)

    def layer_infos(self) -> list[LayerInfo]:
        return list(self.static_layers)

    def layer_info(self, name: str) -> LayerInfo:
        for info in self.static_layers:
            if info.name == name:
                return info
        if self.model is not None:
            if name not in self._extra:
                tensor = self.model.tensor(name)
                if tensor is not None and tensor.shape.rank == 4 and tensor.dtype.is_floating:
                    self._extra[name] = LayerInfo(name, (None, None, tensor.shape[-1]))
            if name in self._extra:
                return self._extra[name]
        raise ModelError(unknown_layer_message(name, self.layer_names(), self.name))

    def layer_shapes(self, height: int, width: int) -> dict[str, tuple]:
        if self.shape_rule is not None:
            return self.shape_rule(height, width)
        if self.model is None:
            raise ModelError(f"model {self.name!r} was loaded for listing only")
        ops = {info.name: getattr(info, "op", "") or info.name for info in self.static_layers}
        shapes = self.model.shapes_at(height, width, list(ops.values()))
        return {name: shapes[op] for name, op in ops.items()}

    def feature_model(self, layer_names: Sequence[str]):
        if self.model is None:
            raise ModelError(f"model {self.name!r} was loaded for listing only")
        ops = {name: self.layer_info(name).op or name for name in layer_names}
        return GraphFeatures(self.model.tensor_function(ops))

    def classifier_model(self):
        if self._classifier is None:
            self._classifier = self._make_classifier()
        return self._classifier

    def _make_classifier(self):
        if self.model is None or not self.classifier_output:
            raise ModelError(f"model {self.name!r} has no classifier output")
        function = self.model.tensor_function([self.classifier_output])
        count = len(self.labels) if self.labels else None

        def scores(x, training: bool = False):
            import tensorflow as tf

            logits = function(tf.convert_to_tensor(x, tf.float32))[self.classifier_output]
            return logits[:, :count] if count else logits

        return scores
