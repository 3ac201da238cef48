"""Guide objectives: dream towards a guide image's features (Google's 2015 notebook).

``guided(objective, adapter, image)`` replaces each whole-layer term of an
objective by a ``GuideObjective`` at that layer: for each position of the
image's feature map, the guide feature vector with the largest dot product
is found, and that dot product is maximised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dreamer.errors import DreamerError, ModelError
from dreamer.objectives.terms import LayerObjective, Objective


@dataclass(frozen=True, eq=False)
class GuideObjective(Objective):
    """Dream towards a guide image's features at a layer.

    For each position of the image's feature map, the guide feature vector
    with the largest dot product is found, and that dot product is the
    objective (averaged over positions): its gradient pulls every position
    towards the guide feature it already resembles most.

    Attributes:
        layer: the layer compared.
        features: the guide's feature vectors at that layer, (M, C) float32.
        source: a short label of the guide, for names.
    """

    layer: str
    features: np.ndarray
    source: str = "guide"

    def layer_names(self) -> tuple[str, ...]:
        return (self.layer,)

    def __call__(self, activations):
        import tensorflow as tf

        act = tf.cast(activations[self.layer], tf.float32)
        vectors = tf.reshape(act, (-1, tf.shape(act)[-1]))
        guide = tf.constant(self.features, tf.float32)
        best = tf.argmax(tf.matmul(vectors, guide, transpose_b=True), axis=1)
        matched = tf.stop_gradient(tf.gather(guide, best))
        return tf.reduce_mean(tf.reduce_sum(vectors * matched, axis=-1))

    def bind(self, adapter) -> Objective:
        info = adapter.layer_info(self.layer)
        if self.features.shape[-1] != info.channels:
            raise ModelError(
                f"the guide's features have {self.features.shape[-1]} channels; {self.layer} has {info.channels}"
            )
        return self

    @property
    def name(self) -> str:
        return f"guide({self.layer})"




def guide(adapter, layer_name: str, image01: np.ndarray, max_vectors: int = 1024,
          source: str = "guide") -> GuideObjective:
    """A guide objective: ``image01``'s features at ``layer_name`` in ``adapter``.

    At most ``max_vectors`` feature vectors are kept (a regular subsample of
    positions), which bounds the memory of matching them.
    """
    import tensorflow as tf

    adapter.layer_info(layer_name)
    features = adapter.feature_model([layer_name])
    batch = adapter.preprocess(tf.constant(np.asarray(image01, np.float32)[None]))
    out = features(batch, training=False)
    act = out[layer_name] if isinstance(out, dict) else out
    vectors = np.asarray(act, np.float32).reshape(-1, act.shape[-1])
    if len(vectors) > max_vectors:
        vectors = vectors[np.linspace(0, len(vectors) - 1, max_vectors).round().astype(int)]
    return GuideObjective(layer_name, vectors, source)


def guided(objective: Objective, adapter, image01: np.ndarray, source: str = "guide") -> Objective:
    """Replace each whole-layer term of ``objective`` by a guide at that layer (same weight).

    Raises:
        DreamerError: a term is not a whole layer (a guide compares whole feature vectors).
    """
    total = None
    for weight, part in objective.terms():
        if not isinstance(part, LayerObjective):
            raise DreamerError(f"--guide works with whole layers; {part.name} is not one")
        term = weight * guide(adapter, part.layer, image01, source=source)
        total = term if total is None else total + term
    return total
