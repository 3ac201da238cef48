"""Which 1x1 convolutions of a Keras graph to merge into one, and which average pools to move after them.

An Inception block reads one tensor ``x`` with several 1x1 ("pointwise")
convolutions side by side, and one more after a 3x3 average pool of ``x``.
Two exact identities make that cheaper to differentiate:

- sibling pointwise convolutions of the same ``x`` are one convolution with
  their kernels side by side, split afterwards: one larger matrix product
  forwards and one backwards, instead of several small ones and a sum of
  their input gradients;
- a pointwise convolution is the same linear map at every pixel and an
  average pool a per-channel weighted sum of pixels whose weights add up to
  one, so ``conv(pool(x)) == pool(conv(x))``, bias and a folded
  BatchNorm included. With stride 1 the convolution does the same work on
  either side, and the pool then averages the convolution's fewer channels;
  the convolution also joins its siblings on ``x``.

This module only reads the original graph and says what to do (a
:class:`Member` per convolution, grouped by the tensor they read);
``dreamer.models.rewrite`` builds it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Member:
    """One pointwise convolution of a merge group.

    Attributes:
        conv: the original ``Conv2D`` layer.
        norm: the BatchNormalization folded into it, or None.
        pool: the average pool in front of it, which moves after it, or None.
    """

    conv: object
    norm: object = None
    pool: object = None

    @property
    def end(self):
        """The original layer whose output this member stands for."""
        return self.norm if self.norm is not None else self.conv


def consumers(model) -> dict:
    """id(tensor) -> the model's nodes that read it (nodes outside the model left out)."""
    out = {}
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            for tensor in node.input_tensors:
                out.setdefault(id(tensor), []).append(node)
    return out


def _single(layer) -> bool:
    return len(layer._inbound_nodes) == 1


def _pointwise(layer) -> bool:
    import keras

    if type(layer) is not keras.layers.Conv2D or not _single(layer):
        return False
    config = layer.get_config()
    return (
        tuple(config["kernel_size"]) == (1, 1)
        and tuple(config["strides"]) == (1, 1)
        and tuple(config["dilation_rate"]) == (1, 1)
        and config.get("groups", 1) == 1
        and config.get("data_format", "channels_last") == "channels_last"
        and layer.kernel_regularizer is None
    )


def _movable_pool(pool, conv, readers: dict, output_ids: set) -> bool:
    """Whether ``pool`` -> ``conv`` may become ``conv`` -> ``pool`` (and is cheaper so)."""
    import keras

    if type(pool) is not keras.layers.AveragePooling2D or not _single(pool) or id(pool) in output_ids:
        return False
    config = pool.get_config()
    if tuple(config["strides"]) != (1, 1) or config.get("data_format", "channels_last") != "channels_last":
        return False
    node = pool._inbound_nodes[0]
    if len(readers.get(id(node.output_tensors[0]), ())) != 1:
        return False
    channels = node.input_tensors[0].shape[-1]
    return channels is not None and conv.get_config()["filters"] < channels


def _folded_norm(conv, readers: dict, output_ids: set):
    """The BatchNormalization that reads only ``conv``'s output and can be folded into it, or None."""
    import keras

    out = conv._inbound_nodes[0].output_tensors[0]
    nodes = readers.get(id(out), ())
    if id(conv) in output_ids or len(nodes) != 1 or conv.get_config().get("activation") != "linear":
        return None
    norm = nodes[0].operation
    if not isinstance(norm, keras.layers.BatchNormalization) or not _single(norm):
        return None
    config = norm.get_config()
    if norm.axis not in (-1, 3) or config.get("renorm") or config.get("synchronized"):
        return None
    return norm


def merge_groups(model, output_ids: set) -> dict:
    """id(original convolution) -> its group: the members that read the same tensor in the same dtype.

    A group is worth it with two members or more, or one member whose
    average pool moves after it. Members keep the order of the model's
    layers, so the merged kernel's channels are in a stable order. Layers
    in ``output_ids`` (the model's outputs) are left as they are.
    """
    readers = consumers(model)
    groups = {}
    for layer in model.layers if hasattr(model, "layers") else ():
        if not _pointwise(layer) or id(layer) in output_ids:
            continue
        x = layer._inbound_nodes[0].input_tensors[0]
        producer = x._keras_history.operation
        pool = producer if _movable_pool(producer, layer, readers, output_ids) else None
        if pool is not None:
            x = pool._inbound_nodes[0].input_tensors[0]
        member = Member(layer, _folded_norm(layer, readers, output_ids), pool)
        groups.setdefault((id(x), layer.dtype_policy.name), []).append(member)
    kept = [tuple(members) for members in groups.values() if len(members) > 1 or members[0].pool is not None]
    return {id(member.conv): group for group in kept for member in group}
