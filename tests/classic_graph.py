"""A stand-in for the 2015 ``tensorflow_inception_graph.pb``, written node by node.

The real file was frozen by a 2015 TensorFlow, and its op set differs from
what today's graph-building functions emit. This builder writes the NodeDefs
directly, so the stand-in has the old graph's ops and names:

- ``input``: a float Placeholder with no shape at all;
- every convolution is ``X_pre_relu/conv`` (Conv2D) -> ``X_pre_relu``
  (BiasAdd) -> ``X`` (Relu), with ``X_w`` and ``X_b`` constants;
- ``localresponsenorm0``/``1`` (LRN), ``maxpool0``, ``maxpool1``,
  ``maxpool4``, ``maxpool10``, ``avgpool0`` and each block's ``mixedNx_pool``;
- each ``mixedNx`` is the old ``Concat`` op fed by a ``mixedNx/concat_dim``
  constant (not ``ConcatV2``);
- the heads: ``head0_pool`` -> ``head0_bottleneck`` -> ``.../reshape`` ->
  ``nn0`` -> ``nn0/reshape`` -> ``softmax0_pre_activation/matmul`` ->
  ``softmax0``; the same for head1 from ``mixed4d``; ``avgpool0/reshape`` ->
  ``softmax2_pre_activation`` -> ``softmax2`` -> ``output``.

Channel counts are GoogLeNet's (``WIDTHS``, written out here independently
of ``dreamer.models.inception5h`` so that a test can compare the two); the
weights are seeded random numbers, He-scaled so activations stay finite.
``tail_divisor`` narrows everything after ``mixed4c`` (the blocks, the heads'
bottlenecks and hidden layers) for tests that run the graph: the path to
``mixed4c`` keeps its real widths, and the whole graph gets lighter to load.
"""

from __future__ import annotations

import numpy as np

STEM = (("conv2d0", 7, 2, 64), ("conv2d1", 1, 1, 64), ("conv2d2", 3, 1, 192))
#: Block -> (1x1, 3x3 bottleneck, 3x3, 5x5 bottleneck, 5x5, pool reduce), GoogLeNet's widths.
WIDTHS = {
    "mixed3a": (64, 96, 128, 16, 32, 32),
    "mixed3b": (128, 128, 192, 32, 96, 64),
    "mixed4a": (192, 96, 204, 16, 48, 64),
    "mixed4b": (160, 112, 224, 24, 64, 64),
    "mixed4c": (128, 128, 256, 24, 64, 64),
    "mixed4d": (112, 144, 288, 32, 64, 64),
    "mixed4e": (256, 160, 320, 32, 128, 128),
    "mixed5a": (256, 160, 320, 48, 128, 128),
    "mixed5b": (384, 192, 384, 48, 128, 128),
}
CLASSES = 1008


class GraphWriter:
    """Appends NodeDefs to a GraphDef; weights come from one seeded generator."""

    def __init__(self, seed: int):
        import tensorflow as tf

        self.tf = tf
        self.graph_def = tf.compat.v1.GraphDef()
        self.rng = np.random.default_rng(seed)
        self.channels: dict[str, int] = {}

    def node(self, name: str, op: str, inputs=(), **attrs) -> str:
        from tensorflow.core.framework import attr_value_pb2

        node = self.graph_def.node.add(name=name, op=op, input=list(inputs))
        for key, value in attrs.items():
            node.attr[key].CopyFrom(value if isinstance(value, attr_value_pb2.AttrValue) else _attr(value))
        return name

    def const(self, name: str, array: np.ndarray) -> str:
        from tensorflow.core.framework import attr_value_pb2

        tensor = self.tf.make_tensor_proto(array)
        return self.node(name, "Const", dtype=attr_value_pb2.AttrValue(type=tensor.dtype),
                         value=attr_value_pb2.AttrValue(tensor=tensor))

    def conv(self, x: str, name: str, kernel: int, cout: int, stride: int = 1) -> str:
        cin = self.channels[x]
        scale = np.sqrt(2.0 / (kernel * kernel * cin))
        w = self.const(f"{name}_w", (self.rng.standard_normal((kernel, kernel, cin, cout)) * scale).astype(np.float32))
        b = self.const(f"{name}_b", np.full(cout, 0.05, np.float32))
        conv = self.node(f"{name}_pre_relu/conv", "Conv2D", [x, w], T="float", strides=[1, stride, stride, 1],
                         padding=b"SAME")
        pre = self.node(f"{name}_pre_relu", "BiasAdd", [conv, b], T="float")
        self.channels[name] = cout
        return self.node(name, "Relu", [pre], T="float")

    def pool(self, x: str, name: str, op: str, size: int, stride: int, padding: bytes = b"SAME") -> str:
        self.channels[name] = self.channels[x]
        return self.node(name, op, [x], T="float", ksize=[1, size, size, 1], strides=[1, stride, stride, 1],
                         padding=padding)

    def lrn(self, x: str, name: str) -> str:
        self.channels[name] = self.channels[x]
        return self.node(name, "LRN", [x], T="float", depth_radius=2, bias=1.0, alpha=2e-5, beta=0.75)

    def mixed(self, x: str, block: str, widths) -> str:
        one, b3, three, b5, five, reduce_ = widths
        branches = [
            self.conv(x, f"{block}_1x1", 1, one),
            self.conv(self.conv(x, f"{block}_3x3_bottleneck", 1, b3), f"{block}_3x3", 3, three),
            self.conv(self.conv(x, f"{block}_5x5_bottleneck", 1, b5), f"{block}_5x5", 5, five),
            self.conv(self.pool(x, f"{block}_pool", "MaxPool", 3, 1), f"{block}_pool_reduce", 1, reduce_),
        ]
        axis = self.const(f"{block}/concat_dim", np.array(3, np.int32))
        self.channels[block] = one + three + five + reduce_
        return self.node(block, "Concat", [axis, *branches], T="float", N=len(branches))

    def dense(self, x: str, name: str, size: int, cin: int, reshape: str, out: str = "_pre_relu") -> str:
        """``reshape`` flattens ``x`` to (N, cin); then ``name{out}/matmul`` and its bias."""
        shape = self.const(f"{reshape}/shape", np.array([-1, cin], np.int32))
        flat = self.node(reshape, "Reshape", [x, shape], T="float", Tshape="int32")
        w = self.const(f"{name}_w", (self.rng.standard_normal((cin, size)) * np.sqrt(1.0 / cin)).astype(np.float32))
        b = self.const(f"{name}_b", np.zeros(size, np.float32))
        product = self.node(f"{name}{out}/matmul", "MatMul", [flat, w], T="float")
        return self.node(f"{name}{out}", "BiasAdd", [product, b], T="float")

    def head(self, x: str, index: int, divisor: int) -> str:
        width, hidden = 128 // divisor, 1024 // divisor
        pool = self.pool(x, f"head{index}_pool", "AvgPool", 5, 3, b"VALID")
        bottleneck = self.conv(pool, f"head{index}_bottleneck", 1, width)
        nn = self.dense(bottleneck, f"nn{index}", hidden, 4 * 4 * width, f"head{index}_bottleneck/reshape")
        nn = self.node(f"nn{index}", "Relu", [nn], T="float")
        logits = self.dense(nn, f"softmax{index}", CLASSES, hidden, f"nn{index}/reshape", "_pre_activation")
        return self.node(f"softmax{index}", "Softmax", [logits], T="float")


def classic_inception_graph_bytes(seed: int = 0, tail_divisor: int = 1) -> bytes:
    """The stand-in GraphDef, serialised (54 MB at GoogLeNet's real widths, 16 MB with ``tail_divisor=8``)."""

    def widths(block: str) -> tuple:
        late = block in ("mixed4d", "mixed4e", "mixed5a", "mixed5b")
        return tuple(w // tail_divisor for w in WIDTHS[block]) if late else WIDTHS[block]

    g = GraphWriter(seed)
    x = g.node("input", "Placeholder", dtype="float")
    g.channels[x] = 3
    x = g.conv(x, "conv2d0", 7, 64, 2)
    x = g.lrn(g.pool(x, "maxpool0", "MaxPool", 3, 2), "localresponsenorm0")
    x = g.conv(g.conv(x, "conv2d1", 1, 64), "conv2d2", 3, 192)
    x = g.pool(g.lrn(x, "localresponsenorm1"), "maxpool1", "MaxPool", 3, 2)
    x = g.mixed(g.mixed(x, "mixed3a", widths("mixed3a")), "mixed3b", widths("mixed3b"))
    x = g.mixed(g.pool(x, "maxpool4", "MaxPool", 3, 2), "mixed4a", widths("mixed4a"))
    g.head(x, 0, tail_divisor)
    for block in ("mixed4b", "mixed4c", "mixed4d"):
        x = g.mixed(x, block, widths(block))
    g.head(x, 1, tail_divisor)
    x = g.mixed(x, "mixed4e", widths("mixed4e"))
    x = g.mixed(g.pool(x, "maxpool10", "MaxPool", 3, 2), "mixed5a", widths("mixed5a"))
    x = g.mixed(x, "mixed5b", widths("mixed5b"))
    x = g.pool(x, "avgpool0", "AvgPool", 7, 1, b"VALID")
    logits = g.dense(x, "softmax2", CLASSES, g.channels[x], "avgpool0/reshape", "_pre_activation")
    g.node("output", "Identity", [g.node("softmax2", "Softmax", [logits], T="float")], T="float")
    return g.graph_def.SerializeToString()


def classic_labels() -> list[str]:
    """1008 class names as the real labels file has them (index 0 is ``dummy``)."""
    return ["dummy", *[f"class {i}" for i in range(1, CLASSES)]]


def _attr(value):
    from tensorflow.core.framework import attr_value_pb2, types_pb2

    if isinstance(value, str):
        return attr_value_pb2.AttrValue(type={"float": types_pb2.DT_FLOAT, "int32": types_pb2.DT_INT32}[value])
    if isinstance(value, bytes):
        return attr_value_pb2.AttrValue(s=value)
    if isinstance(value, bool):
        return attr_value_pb2.AttrValue(b=value)
    if isinstance(value, int):
        return attr_value_pb2.AttrValue(i=value)
    if isinstance(value, float):
        return attr_value_pb2.AttrValue(f=value)
    return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(i=list(value)))
