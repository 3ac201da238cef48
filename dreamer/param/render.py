"""Rendering from noise in the Fourier parameterisation: Adam on the spectrum, robust to moves.

``FourierRenderer`` compiles one step for a model and what to score:

    spectrum -> image (``dreamer.param.fourier``) -> random moves
    (``dreamer.engine.transforms``) -> the network -> each image's score
    (and, for variants, a diversity penalty) -> gradient -> an Adam update
    of the spectrum.

Scores are per image, so one batch can hold several channels (or classes),
each with several variants:

- ``UnitScores(layer)``: image ``i`` scores the mean of unit ``units[i]`` of
  ``layer`` (a channel of a 4-D layer, or a class of the 2-D class output);
- ``ObjectiveScores(objective)``: every image scores the same objective.

Variants: the images of one unit form a group; ``diversity`` (weight in
``FourierConfig``) penalises the cosine similarity between the Gram matrices
(channel co-activations, i.e. style) of the group's images at a layer, so
they show different facets of what the unit responds to (Olah et al.,
"Feature Visualization", Distill 2017).

Randomness: image (unit u, variant v) draws its start and its moves from
``numpy.random.default_rng([seed, u, v])``, so it looks the same whichever
images share its batch. The settings are a ``dreamer.config.FourierConfig``;
the network comes ready from the model side (``dreamer.models.FeatureNetwork``,
built by ``fourier_renderer``). Nothing here prints or saves;
progress goes to a callback with the engine's ``Progress``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from dreamer import backend
from dreamer.engine import NumericalError, Progress
from dreamer.engine.transforms import apply_moves, draw_moves
from dreamer.errors import DreamerError
from dreamer.models import ModelAdapter, feature_network
from dreamer.objectives import Objective
from dreamer.param.fourier import frequency_scale, initial_spectrum, spectrum_to_image
from dreamer.param.settings import FourierConfig

#: Adam's moment decay rates and epsilon (Kingma & Ba's defaults).
ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8


class UnitScores:
    """Image ``i`` scores the mean of unit ``units[i]`` (the last axis) of ``layer``."""

    def __init__(self, layer: str):
        self.layer = layer

    def layer_names(self) -> tuple[str, ...]:
        return (self.layer,)

    def __call__(self, activations, units):
        from keras import ops

        act = ops.cast(activations[self.layer], "float32")
        chosen = ops.one_hot(units, act.shape[-1], dtype="float32")  # image i: 1 at units[i]
        chosen = ops.reshape(chosen, (-1,) + (1,) * (len(act.shape) - 2) + (act.shape[-1],))
        picked = ops.sum(act * chosen, axis=-1)
        return ops.mean(picked, axis=tuple(range(1, len(act.shape) - 1))) if len(act.shape) > 2 else picked


class ObjectiveScores:
    """Every image scores ``objective`` (any ``dreamer.objectives`` value) on its own activations."""

    def __init__(self, objective):
        self.objective = objective

    def layer_names(self) -> tuple[str, ...]:
        return tuple(self.objective.layer_names())

    def __call__(self, activations, units):
        from keras import ops

        def one(single):
            return ops.cast(self.objective({name: value[None] for name, value in single.items()}), "float32")

        return ops.map(one, dict(activations))


def diversity_penalty(activations, group: int):
    """The summed cosine similarity of Gram matrices between different images of each group.

    ``activations`` is (N, H, W, C) with N a multiple of ``group`` (a number,
    not a tensor); consecutive ``group`` images form a group. Divided by ``group``.
    """
    from keras import ops

    act = ops.cast(activations, "float32")
    channels = act.shape[-1]
    flat = ops.reshape(act, (ops.shape(act)[0], -1, channels))
    grams = ops.reshape(ops.matmul(ops.swapaxes(flat, 1, 2), flat), (-1, group, channels * channels))
    grams = grams / ops.sqrt(ops.maximum(ops.sum(ops.square(grams), axis=-1, keepdims=True), 1e-12))
    similarity = ops.matmul(grams, ops.swapaxes(grams, 1, 2))
    between = ops.sum(similarity) - ops.sum(ops.diagonal(similarity, axis1=1, axis2=2))
    return between / float(group)


class FourierRenderer:
    """A feature network, what to score and (for variants) where to measure diversity, with its step compiled.

    Args:
        network: a ``dreamer.models.FeatureNetwork`` whose features include
            the scores' layers and ``diversity_layer``.
        scores: ``UnitScores`` or ``ObjectiveScores``.
        diversity_layer: a 4-D layer for the diversity penalty, or None.
    """

    def __init__(self, network, scores, diversity_layer: str | None = None):
        self.network = network
        self.scores = scores
        self.diversity_layer = diversity_layer
        self.precision: str = network.precision
        self._steps: dict[tuple[bool, int, int], Callable] = {}

    def _step(self, odd_width: bool, pad: int, group: int):
        """The compiled step for these sizes (JAX needs them fixed; one trace each under TensorFlow too)."""
        key = (odd_width, pad, group)
        if key not in self._steps:
            self._steps[key] = _compiled_step(self.network, self.scores, self.diversity_layer, StepShape(*key))
        return self._steps[key]

    def render(self, size: tuple[int, int], units: Sequence[int], variants: int = 1,
               config: FourierConfig | None = None,
               progress: Callable[[Progress], None] | None = None) -> np.ndarray:
        """Images (len(units) * variants, H, W, 3) float32 in [0, 1]: unit by unit, its variants in a row.

        ``progress`` gets a Progress per step; its ``octave`` counts batches.

        Raises:
            NumericalError: the scores became NaN or Inf.
        """
        config = config or FourierConfig()
        height, width = size
        if min(height, width) < 1 or variants < 1 or not units:
            raise DreamerError("nothing to render: give a size, at least one unit and one variant")
        per_batch = max(1, config.batch // variants)
        batches = [list(units[i:i + per_batch]) for i in range(0, len(units), per_batch)]
        images = []
        for index, batch in enumerate(batches):
            report = None if progress is None else (
                lambda step, loss, i=index: progress(Progress(i, len(batches), step, config.steps, size, loss)))
            images.append(self._render_batch(size, batch, variants, config, report))
        return np.concatenate(images)

    def _render_batch(self, size, units, variants, config, report):
        height, width = size
        pairs = [(int(u), v) for u in units for v in range(variants)]
        rngs = [np.random.default_rng([config.seed, u, v]) for u, v in pairs]
        spectrum = np.concatenate([initial_spectrum(1, height, width, rng) for rng in rngs])
        first, second = np.zeros_like(spectrum), np.zeros_like(spectrum)
        scale = frequency_scale(height, width, config.decay_power)
        constants = (scale, np.asarray([u for u, _ in pairs], np.int32),
                     np.float32(config.diversity if variants > 1 else 0.0), np.float32(config.learning_rate))
        step_function = self._step(width % 2 == 1, config.moves.pad, variants)
        for step in range(1, config.steps + 1):
            draws = draw_moves(config.moves, rngs)
            spectrum, first, second, scores = step_function(spectrum, first, second, np.float32(step), draws,
                                                            *constants)
            score = float(np.mean(backend.to_numpy(scores)))
            if not math.isfinite(score):
                raise NumericalError("the model produced NaN or Inf values; try another layer or a smaller "
                                     "learning rate, or check the model's preprocessing")
            if report is not None:
                report(step, score)
        return np.asarray(backend.to_numpy(spectrum_to_image(spectrum, scale, width % 2 == 1)), np.float32)


def renderer_layers(scores, diversity_layer: str | None) -> list[str]:
    """The layers a renderer's network must return: the scores' and the diversity layer."""
    return list(dict.fromkeys(scores.layer_names() + ((diversity_layer,) if diversity_layer else ())))


@dataclass(frozen=True)
class StepShape:
    """What a compiled step fixes: whether the width is odd, the moves' padding, and the variants per unit."""

    odd_width: bool
    pad: int
    group: int


#: The compiled step's arguments: spectrum, Adam's two moments, the step count, the moves, the frequency
#: scale, each image's unit, the diversity weight and the learning rate.
_SPECTRUM = ((None, 3, None, None, 2), "float32")
STEP_SIGNATURE = (_SPECTRUM, _SPECTRUM, _SPECTRUM, ((), "float32"), ((None, 4), "float32"),
                  ((None, None), "float32"), ((None,), "int32"), ((), "float32"), ((), "float32"))


def _compiled_step(network, scores, diversity_layer, shape: StepShape):
    """One Adam step on the spectrum, compiled for the backend; returns (spectrum, m, v, per-image scores)."""
    from keras import ops

    from dreamer.engine import activations_of

    beta1, beta2 = ADAM_BETAS
    activations = activations_of(network, renderer_layers(scores, diversity_layer))

    def loss(spectrum, draws, scale, units, diversity):
        moved = apply_moves(spectrum_to_image(spectrum, scale, shape.odd_width), draws, shape.pad)
        acts = activations(network.preprocess(moved))
        per_image = scores({name: acts[name] for name in scores.layer_names()}, units)
        total = -ops.sum(per_image)
        if diversity_layer is not None:
            total = total + diversity * diversity_penalty(acts[diversity_layer], shape.group)
        return total, per_image

    value_and_gradient = backend.grad(loss)

    def step(*arguments):
        """One Adam step; ``arguments`` as ``STEP_SIGNATURE`` lists them."""
        spectrum, first, second, count, draws, scale, units, diversity, learning_rate = arguments
        _, per_image, grad = value_and_gradient(spectrum, draws, scale, units, diversity)
        first = beta1 * first + (1.0 - beta1) * grad
        second = beta2 * second + (1.0 - beta2) * grad * grad
        corrected = learning_rate * ops.sqrt(1.0 - beta2**count) / (1.0 - beta1**count)
        spectrum = spectrum - corrected * first / (ops.sqrt(second) + ADAM_EPSILON)
        return spectrum, first, second, per_image

    return backend.compile_step(step, STEP_SIGNATURE, getattr(network.features, "variables", ()))


def fourier_renderer(adapter: ModelAdapter, scores, diversity_layer: str | None = None,
                     precision: str = "float32"):
    """A ``dreamer.param.render.FourierRenderer`` for ``scores`` on ``adapter``'s network, rewritten for speed.

    Raises:
        DreamerError: an unknown layer, or ``precision="bfloat16"`` for a
            model that can't be rewritten.
    """
    network = feature_network(adapter, renderer_layers(scores, diversity_layer), precision)
    return FourierRenderer(network, scores, diversity_layer)


def diversity_layer_for(objective: Objective, adapter: ModelAdapter) -> str:
    """The first 4-D layer ``objective`` reads, else the model's default layer: where variants must differ."""
    names = set(adapter.layer_names())
    return next((name for name in objective.layer_names() if name in names), adapter.default_layer)
