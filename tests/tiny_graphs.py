"""A tiny frozen GraphDef with inception5h's op names and input conventions, made here.

Placeholder ``input`` (NHWC float, 0-255 minus 117), convolutions named like
the real graph (``conv2d0_pre_relu`` -> ``conv2d0``), concatenated ``mixed3a``
and ``mixed4c`` blocks, and ``softmax2_pre_activation`` -> ``softmax2``. All
weights are seeded constants, so the graph is frozen by construction.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

LABELS = ["dummy", "kit fox", "tabby", "goldfish", "volcano"]


def tiny_inception_graph_bytes(seed: int = 0) -> bytes:
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, name="input")

        def conv(inp, cin, cout, name, stride=1):
            kernel = tf.constant((rng.normal(size=(3, 3, cin, cout)) * 0.3).astype(np.float32))
            bias = tf.constant(np.full(cout, 0.1, np.float32))
            pre = tf.nn.bias_add(tf.nn.conv2d(inp, kernel, stride, "SAME", name=f"{name}_pre_relu/conv"), bias,
                                 name=f"{name}_pre_relu")
            return tf.nn.relu(pre, name=name)

        h = conv(x / 100.0, 3, 8, "conv2d0", 2)
        a = tf.concat([conv(h, 8, 4, "mixed3a_1x1"), conv(h, 8, 4, "mixed3a_3x3", 1)], 3, name="mixed3a")
        c = tf.concat([conv(a, 8, 6, "mixed4c_1x1", 2), conv(a, 8, 6, "mixed4c_3x3", 2)], 3, name="mixed4c")
        pooled = tf.reduce_mean(c, [1, 2])
        weights = tf.constant(rng.normal(size=(12, 7)).astype(np.float32))
        logits = tf.matmul(pooled, weights, name="softmax2_pre_activation")
        tf.nn.softmax(logits, name="softmax2")
    return graph.as_graph_def().SerializeToString()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_inception_zip(path: Path, graph: bytes, labels=LABELS, extra: dict | None = None,
                        folder: str = "") -> Path:
    """A zip laid out like inception5h.zip (optionally inside a folder, with extra members)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{folder}tensorflow_inception_graph.pb", graph)
        archive.writestr(f"{folder}imagenet_comp_graph_label_strings.txt", "\n".join(labels) + "\n")
        archive.writestr(f"{folder}LICENSE", "Apache-2.0\n")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path
