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
    """A digest of every weight's value (a model changed in place gets a new one)."""
    digest = hashlib.blake2b(digest_size=16)
    for weights in model.get_weights():
        digest.update(str(weights.shape).encode())
        digest.update(np.ascontiguousarray(weights).data)
    return digest.digest()
