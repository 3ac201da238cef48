"""Models: one adapter per model family, and the registry that finds them.

- ``base``: the adapter contract (``ModelAdapter``, ``LayerInfo``);
- ``registry``: names, aliases and paths -> adapters (``load_model``);
- ``efficientnet_lite`` (with ``torchpickle``), ``inception5h`` (with
  ``graphdef``), ``zoo`` (Keras applications), ``user`` (your own files);
- ``rewrite``: the network rewritten for fast gradients (``feature_network``);
- ``download``, ``labels``, ``preprocessing``: what the loaders share.
"""

from dreamer.models.base import LayerInfo, ModelAdapter, unknown_layer_message
from dreamer.models.registry import (
    DEFAULT_MODEL,
    REGISTRY,
    ModelSpec,
    adapter_for_keras,
    find_spec,
    layer_names_known,
    load_model,
    model_architecture,
    model_for_layers,
    models_with_layers,
    registered_names,
    spec_layer_names,
)
from dreamer.models.rewrite import FeatureNetwork, feature_network

__all__ = [
    "DEFAULT_MODEL", "REGISTRY", "FeatureNetwork", "LayerInfo", "ModelAdapter", "ModelSpec", "adapter_for_keras",
    "feature_network", "find_spec", "layer_names_known", "load_model", "model_architecture", "model_for_layers",
    "models_with_layers", "registered_names", "spec_layer_names", "unknown_layer_message",
]
