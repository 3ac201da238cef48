"""The catalog's data built from the registered models' architectures (``scripts/generate_layer_names.py``).

Apart from ``catalog``, which the registry reads: this module reads the
registry, so the two do not import each other. Imports TensorFlow.
"""

from __future__ import annotations

from typing import Iterable

from dreamer.models.catalog import FORMAT
from dreamer.models.graphdef import GraphAdapter
from dreamer.models.registry import REGISTRY
from dreamer.models.zoo import ZooAdapter


def generate(models: Iterable[str] | None = None) -> dict:
    """``{"format", "keras", "models": {name: {"layers": [[layer, channels], ...], "any_op", "keras_names",
    "min_size"}}}``.

    Built from each registered model's architecture (no weights, no
    download); imports TensorFlow.
    """
    import keras


    entries = {}
    for name in models if models is not None else REGISTRY:
        spec = REGISTRY[name]
        if spec.architecture is None:
            continue
        adapter = spec.architecture()
        entries[name] = {
            "layers": [[info.name, info.channels] for info in adapter.layer_infos()],
            "any_op": isinstance(adapter, GraphAdapter),
            "keras_names": isinstance(adapter, ZooAdapter),
            "min_size": adapter.min_size,
        }
    return {"format": FORMAT, "keras": keras.__version__, "models": entries}
