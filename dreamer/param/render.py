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
from typing import Callable, Sequence

import numpy as np

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
        import tensorflow as tf

        act = tf.cast(activations[self.layer], tf.float32)
        picked = tf.gather(act, units, axis=act.shape.rank - 1, batch_dims=1)
        return tf.reduce_mean(tf.reshape(picked, (tf.shape(picked)[0], -1)), axis=1)


class ObjectiveScores:
    """Every image scores ``objective`` (any ``dreamer.objectives`` value) on its own activations."""

    def __init__(self, objective):
        self.objective = objective

    def layer_names(self) -> tuple[str, ...]:
        return tuple(self.objective.layer_names())

    def __call__(self, activations, units):
        import tensorflow as tf

        def one(single):
            return self.objective({name: value[None] for name, value in single.items()})

        return tf.map_fn(one, dict(activations), fn_output_signature=tf.float32)


def diversity_penalty(activations, group: int):
    """The summed cosine similarity of Gram matrices between different images of each group.

    ``activations`` is (N, H, W, C) with N a multiple of ``group``;
    consecutive ``group`` images form a group. Divided by ``group``.
    """
    import tensorflow as tf

    act = tf.cast(activations, tf.float32)
    count, channels = tf.shape(act)[0], tf.shape(act)[-1]
    flat = tf.reshape(act, (count, -1, channels))
    grams = tf.matmul(flat, flat, transpose_a=True)
    grams = tf.math.l2_normalize(tf.reshape(grams, (count // group, group, -1)), axis=-1)
    similarity = tf.matmul(grams, grams, transpose_b=True)
    between = tf.reduce_sum(similarity) - tf.reduce_sum(tf.linalg.diag_part(similarity))
    return between / tf.cast(group, tf.float32)


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
        self._step = _compiled_step(network, scores, diversity_layer)

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
        import tensorflow as tf

        height, width = size
        pairs = [(int(u), v) for u in units for v in range(variants)]
        rngs = [np.random.default_rng([config.seed, u, v]) for u, v in pairs]
        spectrum = tf.constant(np.concatenate([initial_spectrum(1, height, width, rng) for rng in rngs]))
        first, second = tf.zeros_like(spectrum), tf.zeros_like(spectrum)
        constants = dict(
            scale=tf.constant(frequency_scale(height, width, config.decay_power)),
            size=tf.constant([height, width], tf.int32),
            units=tf.constant([u for u, _ in pairs], tf.int32),
            group=tf.constant(variants, tf.int32),
            diversity=tf.constant(config.diversity if variants > 1 else 0.0, tf.float32),
            learning_rate=tf.constant(config.learning_rate, tf.float32),
            pad=tf.constant(config.moves.pad, tf.int32),
        )
        for step in range(1, config.steps + 1):
            draws = tf.constant(draw_moves(config.moves, rngs))
            spectrum, first, second, scores = self._step(
                (spectrum, first, second), tf.constant(step, tf.float32), draws, constants)
            score = float(tf.reduce_mean(scores))
            if not math.isfinite(score):
                raise NumericalError("the model produced NaN or Inf values; try another layer or a smaller "
                                     "learning rate, or check the model's preprocessing")
            if report is not None:
                report(step, score)
        return np.asarray(spectrum_to_image(spectrum, constants["scale"], constants["size"]), np.float32)


def renderer_layers(scores, diversity_layer: str | None) -> list[str]:
    """The layers a renderer's network must return: the scores' and the diversity layer."""
    return list(dict.fromkeys(scores.layer_names() + ((diversity_layer,) if diversity_layer else ())))


def _compiled_step(network, scores, diversity_layer):
    """The tf.function of one Adam step on the spectrum; returns (spectrum, m, v, per-image scores)."""
    import tensorflow as tf

    beta1, beta2 = ADAM_BETAS
    names = renderer_layers(scores, diversity_layer)

    def activations(x):
        out = network.features(x, training=False)
        if not isinstance(out, dict):
            out = {names[0]: out}
        return {name: tf.cast(value, tf.float32) for name, value in out.items()}

    spec = tf.TensorSpec([None, 3, None, None, 2], tf.float32)
    scalar = tf.TensorSpec([], tf.float32)

    constants = {
        "scale": tf.TensorSpec([None, None], tf.float32), "size": tf.TensorSpec([2], tf.int32),
        "units": tf.TensorSpec([None], tf.int32), "group": tf.TensorSpec([], tf.int32), "diversity": scalar,
        "learning_rate": scalar, "pad": tf.TensorSpec([], tf.int32),
    }

    @tf.function(input_signature=[(spec, spec, spec), scalar, tf.TensorSpec([None, 4], tf.float32), constants])
    def step(adam, count, draws, constants):
        """One Adam step: ``adam`` is (spectrum, first moment, second moment); ``constants`` the batch's fixed
        tensors (the ``constants`` signature above)."""
        spectrum, first, second = adam
        scale, size, units, group = constants["scale"], constants["size"], constants["units"], constants["group"]
        diversity, learning_rate, pad = constants["diversity"], constants["learning_rate"], constants["pad"]
        with tf.GradientTape() as tape:
            tape.watch(spectrum)
            moved = apply_moves(spectrum_to_image(spectrum, scale, size), draws, pad)
            acts = activations(network.preprocess(moved))
            per_image = scores({name: acts[name] for name in scores.layer_names()}, units)
            loss = -tf.reduce_sum(per_image)
            if diversity_layer is not None:
                loss += diversity * diversity_penalty(acts[diversity_layer], group)
        grad = tape.gradient(loss, spectrum)
        first = beta1 * first + (1.0 - beta1) * grad
        second = beta2 * second + (1.0 - beta2) * grad * grad
        corrected = learning_rate * tf.sqrt(1.0 - beta2**count) / (1.0 - beta1**count)
        spectrum = spectrum - corrected * first / (tf.sqrt(second) + ADAM_EPSILON)
        return spectrum, first, second, per_image

    return step


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
