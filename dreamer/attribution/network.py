"""The network as the attribution methods see it: [0, 1] images in, a target score per image out.

``resolve_target`` turns what the user asked for (the predicted class, a
class name or index, or objective text such as ``block5c_add:37``) into a
``Target`` bound to the model. ``Network`` wraps the adapter's feature model
for the target's layers (and the Grad-CAM layer): ``outputs`` runs it,
``scores`` reduces the activations to one score per image, ``score_batch``
and ``probability_batch`` do both for any number of images in bounded batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dreamer.errors import ModelError


@dataclass(frozen=True)
class Target:
    """What is explained: a bound objective, its readable label, and the class index when it is a class."""

    objective: object
    label: str
    index: int | None = None
    class_layer: str | None = None

    @property
    def is_class(self) -> bool:
        return self.index is not None


@dataclass(frozen=True)
class TargetSpec:
    """What the user asked: ``kind`` "predicted", "class" (``text`` a name or index) or "objective" (grammar text)."""

    kind: str = "predicted"
    text: str = ""


class Network:
    """The adapter's feature model for a target (and optionally a layer), called on [0, 1] NHWC images.

    Args:
        adapter: a ``dreamer.models.ModelAdapter``.
        target: the bound ``Target``.
        layer: a layer whose activations ``outputs`` also returns (Grad-CAM's), or None.
        batch: the most images per forward pass in ``score_batch``.
    """

    def __init__(self, adapter, target: Target, layer: str | None = None, batch: int = 16):
        self.adapter = adapter
        self.target = target
        self.layer = layer
        self.batch = batch
        names = list(target.objective.layer_names())
        for extra in (layer, target.class_layer):
            if extra and extra not in names:
                names.append(extra)
        self._names = names
        self.kept = kept_network(adapter, tuple(names))

    def outputs(self, images):
        """One forward pass (compiled once per model and layers): {layer name: float32 NumPy activation}."""
        from dreamer import backend

        return backend.to_numpy(self.run(self.kept.forward, images))

    def gradient_key(self, layer: str | None):
        """What a compiled gradient depends on besides the layers: the layer, and the objective (a class's
        index is an argument of the compiled function, so every class shares one)."""
        return layer, "class" if self.target.is_class else self.target.objective

    def index(self):
        """The class index as the compiled functions take it (0 for an objective: unused)."""
        return np.int32(self.target.index or 0)

    def run(self, function, images):
        """``function(images)``, a network that can't run at this size said in one line."""
        from dreamer import backend

        try:
            return function(np.asarray(images, np.float32))
        except (*backend.runtime_errors(), ValueError) as exc:
            height, width = int(images.shape[1]), int(images.shape[2])
            raise ModelError(f"the network cannot run on a {width}x{height} image ({backend.error_reason(exc)}; "
                             "a class output behind a Flatten/Dense head works at its trained size only: "
                             "give --size that size)") from None

    def scores(self, activations):
        """The target's score for each image (the objective on that image alone), shape (N,); NumPy
        activations in, NumPy out."""
        from dreamer import backend

        if self.target.is_class:
            return np.asarray(activations[self.target.class_layer])[:, self.target.index]
        count = int(next(iter(activations.values())).shape[0])
        return np.array([backend.to_numpy(self.target.objective({k: v[i:i + 1] for k, v in activations.items()}))
                         for i in range(count)], np.float32)

    def batch_total(self, activations, index):
        """The sum of the images' scores, traceable (keras.ops): a class's logits at ``index`` (a tensor); an
        objective, which is a mean over the batch, times the batch size."""
        import keras

        if self.target.is_class:
            return keras.ops.sum(keras.ops.take(activations[self.target.class_layer], index, axis=1))
        count = keras.ops.cast(keras.ops.shape(next(iter(activations.values())))[0], "float32")
        return keras.ops.cast(self.target.objective(activations), "float32") * count

    def score_batch(self, images: np.ndarray) -> np.ndarray:
        """The target's score for each image, in batches of ``batch``."""
        return self._batched(images, lambda acts: np.asarray(self.scores(acts)))

    def probability_batch(self, images: np.ndarray) -> np.ndarray:
        """The class's probability for each image (a class target), else the target's score."""
        if not self.target.is_class:
            return self.score_batch(images)

        def probability(acts):
            logits = np.asarray(acts[self.target.class_layer], np.float64)
            return np.array([_probabilities(row)[self.target.index] for row in logits])

        return self._batched(images, probability)

    def activations(self, images: np.ndarray, layer: str) -> np.ndarray:
        """One layer's activations for the images."""
        return self._batched(images, lambda acts: np.asarray(acts[layer]))

    def _batched(self, images: np.ndarray, reduce) -> np.ndarray:
        parts = [reduce(self.outputs(images[start:start + self.batch]))
                 for start in range(0, len(images), self.batch)]
        return np.concatenate(parts).astype(np.float32)


class KeptNetwork:
    """The feature model for some layers and its compiled functions, kept on the model object (so a
    batch of photos traces them once; the compiled functions read the weights, so the randomisation
    check's shuffles reach them)."""

    def __init__(self, adapter, names: tuple[str, ...]):
        from dreamer import backend

        self.adapter = adapter
        self.names = names
        self.features = adapter.feature_model(list(names))
        self.forward = backend.compile_step(self.raw_outputs, (((None, None, None, 3), "float32"),),
                                            tuple(self.features.variables))
        self.gradients: dict = {}  # Network.gradient_key -> compiled gradient (dreamer.attribution.gradient)
        self._shapes: dict = {}

    def raw_outputs(self, images, shifted=None):
        """The forward pass itself, to be traced: {layer name: float32 activation}. ``shifted``: (layer,
        delta), ``delta`` added to that layer's output inside the graph (what a layer's gradient is
        taken with respect to)."""
        import keras

        x = self.adapter.preprocess(images)
        out = self.features(x, training=False) if shifted is None else _run_shifted(self.features, x, *shifted)
        if not isinstance(out, dict):
            out = {self.names[0]: out}
        return {name: keras.ops.cast(value, "float32") for name, value in out.items()}

    def output_shape(self, layer: str, images_shape: tuple) -> tuple:
        """The shape of ``layer``'s activations for a batch of ``images_shape`` (symbolic: nothing runs;
        preprocessing keeps the shape)."""
        import keras

        key = (layer, tuple(images_shape))
        if key not in self._shapes:
            specs = self.features.compute_output_spec(keras.KerasTensor(tuple(images_shape)))
            specs = specs if isinstance(specs, dict) else {self.names[0]: specs}
            self._shapes[key] = tuple(specs[layer].shape)
        return self._shapes[key]


def _run_shifted(features, x, layer: str, delta):
    """``features(x)`` with ``delta`` added to the output of the operation that makes ``layer``'s
    activation (a layer, or the sub-model that reaches into a nested model)."""
    import keras
    from keras.src.models.functional import operation_fn

    symbolic = features.output[layer] if isinstance(features.output, dict) else features.output
    target = symbolic._keras_history[0]

    def operation(op):
        call = operation_fn(op, training=False)

        def shifted(*args, **kwargs):
            out = call(*args, **kwargs)
            return out + keras.ops.cast(delta, out.dtype)

        return shifted if op is target else call

    return features._run_through_graph(x, operation_fn=operation)


#: Where the kept networks live on a model object (not a Keras attribute: not tracked, not saved).
_KEPT = "_dreamer_explain"


def kept_network(adapter, names: tuple[str, ...]) -> KeptNetwork:
    """The ``KeptNetwork`` of ``adapter``'s model for ``names``, built on first use."""
    holder = getattr(adapter.model, "__dict__", None)
    if holder is None:
        return KeptNetwork(adapter, names)
    kept = holder.get(_KEPT)
    if kept is None:
        kept = {}
        object.__setattr__(adapter.model, _KEPT, kept)
    key = (names, id(adapter.preprocess))
    if key not in kept:
        kept[key] = KeptNetwork(adapter, names)
    return kept[key]


def _probabilities(scores: np.ndarray) -> np.ndarray:
    from dreamer.classify import to_probabilities

    return to_probabilities(scores)


def resolve_target(adapter, spec: TargetSpec, image: np.ndarray) -> Target:
    """The ``Target`` that ``spec`` asks for, bound to ``adapter`` (``image``: the one the network sees, H x W x 3).

    The predicted class needs a class output; a model without one explains
    its default layer instead.

    Raises:
        ModelError: an unknown class or layer (with the closest names), a class
            asked of a model without a class output, or objective text that does not parse.
    """
    from dreamer.objectives import bind, class_logit, combine, layer

    if spec.kind == "class":
        class_output(adapter)
        return class_target(bind(class_logit(spec.text), adapter), adapter)
    if spec.kind == "objective":
        objective = bind(combine(spec.text), adapter)
        terms = objective.terms()
        if len(terms) == 1 and terms[0][0] == 1.0 and hasattr(terms[0][1], "index") and terms[0][1].index is not None:
            return class_target(terms[0][1], adapter)
        return Target(objective, objective.name)
    try:
        output = class_output(adapter)
    except ModelError:
        objective = bind(layer(adapter.default_layer), adapter)
        return Target(objective, f"{objective.name} (no class output: the default layer)")
    provisional = Target(bind(class_logit("0"), adapter), "", 0, output.name)
    logits = Network(adapter, provisional).activations(image[None], output.name)[0]
    return class_target(bind(class_logit(str(int(np.argmax(logits)))), adapter), adapter)


def class_output(adapter):
    """The adapter's class output layer (``LayerInfo``).

    Raises:
        ModelError: the model has none, or none a layer of it can be read at (a GraphDef's).
    """
    try:
        return adapter.class_layer()
    except AttributeError:
        raise ModelError(f"model {adapter.name!r} has no class output that can be explained (a GraphDef's "
                         "classes are not a layer here); explain a layer or channel with --target") from None


def class_target(objective, adapter) -> Target:
    """A bound class objective as a Target labelled ``name (index)``."""
    label = f"{objective.label} ({objective.index})" if objective.label else f"class {objective.index}"
    return Target(objective, label, objective.index, objective.layer)
