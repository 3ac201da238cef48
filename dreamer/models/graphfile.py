"""The user's own frozen GraphDef (``--model my_graph.pb``), DeepDream-era networks included.

Contract:

- ``load_graph_file(path, preprocess, input_name)`` reads a binary GraphDef
  and returns a ``GraphAdapter`` dreamed on like inception5h. The input is
  ``input_name`` if given, else the graph's one float Placeholder (several
  or none is an error that lists the candidates and names ``--input-name``).
  A placeholder without a shape (the 2015 graphs) takes RGB of any size.
- Layers are the graph's 4-D feature ops by op name, in graph order (a
  convolution whose only use is its bias add is listed once, as the bias
  add); any other op name of the graph can be dreamed on too.
- ``classify`` uses the input of the graph's last 2-D ``Softmax`` (the
  logits), if there is one, with ``--labels``.
- Preprocessing is the user's to state (``--preprocess``, default ``none``:
  0..255 RGB), as for the user's Keras models.
- A GraphDef is data, but some ops read or write files when run; a graph
  that holds any is refused unless ``unsafe`` (``--unsafe-load``).
"""

from __future__ import annotations

from pathlib import Path

from dreamer.errors import ModelError, UnsafeFileError
from dreamer.models.base import LayerInfo
from dreamer.models.graphdef import GraphAdapter, ImportedGraph, read_graph_def
from dreamer.models.userbase import DEFAULT_CLASSIFY_SIZE, graph_adapter

#: Ops that touch files, run Python or reach the network when executed.
UNSAFE_OPS = frozenset({
    "ReadFile", "WriteFile", "MatchingFiles", "Save", "SaveV2", "SaveSlices", "Restore", "RestoreV2",
    "RestoreSlice", "MergeV2Checkpoints", "PyFunc", "PyFuncStateless", "EagerPyFunc", "ImmutableConst",
    "PrintV2", "Print", "DebugIdentity", "DebugIdentityV2", "DebugNanCount",
})
GRAPH_SUFFIXES = (".pb", ".graphdef")


def is_graph_file(path: Path) -> bool:
    """Whether ``path`` is named like a frozen GraphDef."""
    return Path(path).suffix.lower() in GRAPH_SUFFIXES and not Path(path).is_dir()


def load_graph_file(path: Path, preprocess: str | None = None, input_name: str | None = None,
                    unsafe: bool = False) -> GraphAdapter:
    """The adapter for a frozen GraphDef file (see the module docstring).

    Raises:
        ModelError: not a GraphDef, no usable input, no image-like layer.
        UnsafeFileError: the graph holds file or Python ops and ``unsafe`` is off.
    """
    path = Path(path)
    graph_def = read_graph_def(path)
    risky = sorted({node.op for node in graph_def.node if node.op in UNSAFE_OPS})
    if risky and not unsafe:
        raise UnsafeFileError(f"{path}: the graph holds ops that touch files or run code ({', '.join(risky)}); "
                              "pass --unsafe-load only if you trust it")
    name, channels = find_input(graph_def, input_name, path)
    graph = ImportedGraph(graph_def, name, channels)
    layers = listed_layers(graph)
    if not layers:
        raise ModelError(f"{path}: the graph has no image-like (4-D) layer to dream on from {name!r}")
    return graph_adapter(
        path, graph, channels, layers, preprocess,
        classify_size=DEFAULT_CLASSIFY_SIZE,
        classifier_output=logits_op(graph),
        layer_note=f"layers are the graph's op names (input {name!r}); any other op name of the graph works too",
    )


def find_input(graph_def, input_name: str | None, path: Path) -> tuple[str, int]:
    """The input op's name and its channel count (3 when the graph does not say).

    Raises:
        ModelError: the named op is missing, or there is not exactly one float placeholder.
    """
    nodes = {node.name: node for node in graph_def.node}
    if input_name is not None:
        name = input_name.split(":")[0]
        if name not in nodes:
            raise ModelError(f"{path}: the graph has no op {name!r} (--input-name)")
        return name, _channels(nodes[name], path)
    placeholders = [node for node in graph_def.node if node.op == "Placeholder" and _is_float(node)]
    if len(placeholders) == 1:
        return placeholders[0].name, _channels(placeholders[0], path)
    if not placeholders:
        raise ModelError(f"{path}: the graph has no float Placeholder; name its image input with --input-name")
    names = ", ".join(node.name for node in placeholders[:8])
    raise ModelError(f"{path}: the graph has several inputs ({names}); choose one with --input-name")


def listed_layers(graph: ImportedGraph) -> list[LayerInfo]:
    """The graph's 4-D feature ops, a convolution feeding only its bias add left out."""
    infos = []
    for tensor in graph.feature_tensors():
        channels = tensor.shape[-1]
        if channels is None or _only_feeds_bias(tensor):
            continue
        infos.append(LayerInfo(tensor.op.name, (None, None, int(channels))))
    return infos


def logits_op(graph: ImportedGraph) -> str:
    """The op feeding the graph's last 2-D Softmax, or "" if it has none."""
    found = ""
    for op in graph.graph.get_operations():
        if op.type == "Softmax" and op.outputs[0].shape.rank == 2:
            found = op.inputs[0].op.name
    return found


def _only_feeds_bias(tensor) -> bool:
    consumers = tensor.consumers()
    return (tensor.op.type in ("Conv2D", "DepthwiseConv2dNative") and len(consumers) == 1
            and consumers[0].type == "BiasAdd")


def _is_float(node) -> bool:
    from tensorflow.core.framework import types_pb2

    return node.attr["dtype"].type == types_pb2.DT_FLOAT


def _channels(node, path: Path) -> int:
    shape = node.attr["shape"].shape if "shape" in node.attr else None
    if shape is None or shape.unknown_rank or len(shape.dim) != 4 or shape.dim[-1].size < 0:
        return 3
    channels = int(shape.dim[-1].size)
    if channels not in (1, 3):
        raise ModelError(f"{path}: the input {node.name!r} takes {channels} channels; dreamer feeds RGB (3) or "
                         "grayscale (1)")
    return channels
