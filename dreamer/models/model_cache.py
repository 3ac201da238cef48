"""Work kept per ``keras.Model`` object, for as long as the model lives.

``dream(image, model=my_keras_model)`` called again with the same model
object (a notebook user trying layers on their own network) should cost
what a kept ``Dreamer`` costs, not a rewrite of the model and a new trace.
``kept_for_model`` keeps what was built on the model object itself, so it
goes away with the model: a global table keyed by the model would keep every
model alive (what is built refers back to the model, so even a
``weakref.WeakKeyDictionary`` would never let go of it). The model's
weights are fingerprinted, so a model trained or changed in place between
calls gets a fresh build.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

import numpy as np

T = TypeVar("T")

#: How many builds (different layers or settings) one model keeps, most recent first.
PER_MODEL = 4
_ATTRIBUTE = "_dreamer_kept"
_CHECKSUM_ATTRIBUTE = "_dreamer_checksums"
_FOUR_BYTES = ("float32", "int32", "uint32")


def kept_for_model(model, key: Hashable, build: Callable[[], T]) -> T:
    """What ``build()`` returns for ``key``, built once per model object and weights.

    Args:
        model: the user's ``keras.Model`` (any object that takes attributes).
        key: everything besides the model that the build depends on.
        build: makes the thing to keep.

    An unhashable key (a custom objective, say) builds every time.
    """
    try:
        hash(key)
    except TypeError:
        return build()
    kept = model.__dict__.get(_ATTRIBUTE)
    if kept is None:
        kept = OrderedDict()
        # object.__setattr__: not a Keras attribute (not tracked, not saved with the model)
        object.__setattr__(model, _ATTRIBUTE, kept)
    fingerprint = weights_fingerprint(model)
    entry = kept.get(key)
    if entry is not None and entry[0] == fingerprint:
        kept.move_to_end(key)
        return entry[1]
    value = build()
    kept[key] = (fingerprint, value)
    kept.move_to_end(key)
    while len(kept) > PER_MODEL:
        kept.popitem(last=False)
    return value


def weights_fingerprint(model) -> bytes:
    """A fingerprint of every weight's value (a model changed in place gets a new one).

    On TensorFlow with 4-byte weights it is a checksum computed where the
    weights are (``_checksums``: ~15 ms for InceptionV3's 87 MB against
    ~140 ms for copying and hashing them, which was 5% of a short dream);
    elsewhere a BLAKE2 digest of the weights' bytes.
    """
    fast = _checksums(model)
    if fast is not None:
        return fast
    digest = hashlib.blake2b(digest_size=16)
    for weights in model.get_weights():
        digest.update(str(weights.shape).encode())
        digest.update(np.ascontiguousarray(weights).view(np.uint8).data)  # bytes of any dtype (bfloat16 too)
    return digest.digest()


def _checksums(model) -> bytes | None:
    """Per weight, the sum over its rows of (row number * 2 + 1) * (the row's sum of its bits as uint32), mod 2**32.

    Any change of one value changes it (the row factor is odd, so invertible
    mod 2**32), as does moving a row; changes of several values that happen
    to cancel modulo 2**32 (about one chance in 4 billion per weight), or
    values swapped within a row, would not.
    None where it does not apply: another backend than TensorFlow, or a
    weight that is not 4 bytes wide. The compiled function is kept on the
    model, for its current list of weights.
    """
    import keras

    weights = list(getattr(model, "weights", ()))
    if keras.backend.backend() != "tensorflow" or not weights or any(
            keras.backend.standardize_dtype(w.dtype) not in _FOUR_BYTES for w in weights):
        return None
    variables = [w.value for w in weights]
    kept = model.__dict__.get(_CHECKSUM_ATTRIBUTE)  # (the variables it reads, the function)
    if kept is None or len(kept[0]) != len(variables) or any(a is not b for a, b in zip(kept[0], variables)):
        kept = (variables, _checksum_function(variables))
        object.__setattr__(model, _CHECKSUM_ATTRIBUTE, kept)
    shapes = str([tuple(w.shape) for w in weights]).encode()
    return shapes + kept[1]().numpy().tobytes()


def _checksum_function(variables):
    import tensorflow as tf

    @tf.function(autograph=False)
    def checksums():
        out = []
        for variable in variables:
            width = variable.shape[-1] if variable.shape.rank else 1
            bits = tf.bitcast(tf.reshape(variable, [-1, width]), tf.uint32)
            rows = tf.reduce_sum(bits, axis=1)
            odd = tf.cast(tf.range(tf.shape(rows)[0]) * 2 + 1, tf.uint32)
            out.append(tf.reduce_sum(rows * odd))
        return tf.stack(out)

    return checksums
