"""The compiled gradient of an objective with respect to an image's pixels, on any Keras backend.

``ObjectiveGradient`` receives a ready feature network from the model side
(``dreamer.models.FeatureNetwork``: preprocessing, the network that returns
the activations, already rewritten for speed) and an objective; it does not
load or rewrite models itself.

The step's contract, what the engine needs from a backend (this module is
written once in ``keras.ops``; ``dreamer.backend``
takes its gradient and compiles it for the backend Keras runs on):

- in: ``image``, an HxWx3 float32 NumPy array in [0, 1] (a whole image or
  a tile); ``weight``, a float; ``frame``, the tile's (top, left, height,
  width) in the whole image and the whole image's (height, width), or None.
- out: (the gradient of ``weight * objective`` with respect to ``image``, an
  HxWx3 float32 NumPy array; ``weight * objective`` as a Python float).
- any H and W at or above ``min_size`` (TensorFlow: without recompiling for
  each; JAX compiles once per shape);
  ``ModelError`` when the network cannot run at that size.
- the caller (``dreamer.engine.ascent``) does the jitter, tiling,
  normalisation, update and clip in NumPy.

Speed (issue 24, ``docs/performance-float32.md``): in float32 the folded
BatchNorms reach oneDNN's fused convolution + bias + ReLU in this gradient
graph, and its convolutions run at the rate of a large matrix product on
the CPU; on CPUs without AVX-512 a size that earlier dreams keep using moves
to a network with Winograd convolutions (``ObjectiveGradient.new_dream``).
Measured and not adopted: all steps of an octave in one
``tf.function`` (a ``tf.while_loop``, as the TensorFlow tutorial does) took
more CPU time per step than this per-step call; constant weights, thread
pool and oneDNN settings changed nothing.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from dreamer import backend
from dreamer.errors import ModelError

#: The compiled gradient's arguments: an image of any size, a weight, and the image's frame.
SIGNATURE = (((None, None, 3), "float32"), ((), "float32"), ((6,), "float32"))


class ObjectiveGradient:
    """Call with an HxWx3 float32 array in [0, 1] and a weight: returns (gradient, weight * objective).

    The order matches ``ascent_step``'s (image, objective): the array first,
    the objective's value second. Under TensorFlow it is traced once for
    unknown height and width, so new octave and tile sizes don't recompile
    (JAX compiles once per size). ``frame`` says where the image lies in the
    whole image when it is a tile; the objective reads it as
    ``activations[dreamer.objectives.FRAME]`` (a neuron means one position of
    the whole image).

    Attributes:
        network: the FeatureNetwork (its ``precision`` is the arithmetic used).
        objective: the bound objective (its ``variables``, if it has any, are read afresh at every call).
        min_size: the smallest image side the network accepts.
        precision: ``"float32"`` or ``"bfloat16"``.
    """

    def __init__(self, network, objective):
        self.network = network
        self.objective = objective
        self.min_size: int = network.min_size
        self.precision: str = network.precision
        self._gradient = _compiled_gradient(network, objective)
        self._upgraded = None  # the compiled gradient of network.upgrade(), built when first needed
        self._earlier: dict[tuple[int, int], float] = {}  # image size -> seconds spent on it in earlier dreams
        self._current: dict[tuple[int, int], float] = {}  # the same in this dream

    def new_dream(self) -> None:
        """Say that a new dream begins; sizes that earlier dreams spent long enough on move to the upgrade.

        ``network.upgrade`` (if offered) is faster per step but costs about
        ``network.upgrade_seconds`` of compilation for each image size. A
        size moves to it once earlier dreams have spent that long on it, as
        in renting skis until their price is spent: a size that keeps
        coming back (a batch of like photos, a video's frames, a kept
        ``Dreamer`` in a loop) gains, and never more than the compilation is
        lost. Within one dream a size is not used again after its octave,
        so a single dream never compiles (``docs/performance-float32.md``).
        """
        for size, seconds in self._current.items():
            self._earlier[size] = self._earlier.get(size, 0.0) + seconds
        self._current = {}

    def __call__(self, image: np.ndarray, weight: float = 1.0,
                 frame: tuple[int, int, int, int, int, int] | None = None) -> tuple[np.ndarray, float]:
        """``frame``: (top, left, height, width) of ``image`` in the whole image, then the whole image's
        (height, width); None: ``image`` is the whole image."""
        height, width = image.shape[:2]
        frame = (0, 0, height, width, height, width) if frame is None else frame
        start = time.perf_counter()
        args = (image, np.float32(weight), np.asarray(frame, np.float32))
        try:
            value, grad = self._upgraded_call((height, width), args) or self._gradient(*args)
        except backend.runtime_errors() as exc:  # e.g. a Flatten/Dense head at another size than trained
            raise ModelError(f"the network cannot run on a {width}x{height} image ({backend.error_reason(exc)}; "
                             "a class output behind a Flatten/Dense head works at its trained size only)") from None
        except backend.kernel_errors() as exc:  # e.g. bfloat16 asked for on a CPU whose oneDNN has no such kernels
            raise ModelError(f"this machine cannot run the network in {self.precision} "
                             f"({backend.error_reason(exc)}); use --precision float32 or auto") from None
        out = np.asarray(backend.to_numpy(grad), np.float32), float(backend.to_numpy(value))
        spent = time.perf_counter() - start
        self._current[(height, width)] = self._current.get((height, width), 0.0) + spent
        return out

    def _upgraded_call(self, size: tuple[int, int], args):
        """The upgraded network's (value, gradient) once it pays for ``size`` (``new_dream``), else None.

        The upgrade is only a speed-up: if it fails to build or to run, it is
        dropped and the first network carries on.
        """
        upgrade = self.network.upgrade
        if upgrade is None or self._earlier.get(size, -1.0) < self.network.upgrade_seconds:
            return None
        try:
            if self._upgraded is None:
                self._upgraded = _compiled_gradient(upgrade(), self.objective)
            return self._upgraded(*args)
        except Exception:  # noqa: BLE001 - any failure of the faster network means not using it
            self.network = replace(self.network, upgrade=None)
            return None


def activations_of(network, layer_names):
    """A function: preprocessed NHWC input -> {layer: float32 activation} (a single output gets the first name)."""
    import keras

    def activations(x):
        out = network.features(x, training=False)
        if not isinstance(out, dict):
            out = {layer_names[0]: out}
        return {name: keras.ops.cast(value, "float32") for name, value in out.items()}

    return activations


def _compiled_gradient(network, objective):
    """A compiled (image, weight, frame) -> (weight * objective, its gradient), for any image size."""
    from dreamer.objectives import FRAME

    activations = activations_of(network, objective.layer_names())

    def loss(image, weight, frame):
        return weight * objective({**activations(network.preprocess(image[None])), FRAME: frame}), ()

    value_and_gradient = backend.grad(loss)

    def gradient(image, weight, frame):
        value, _, grad = value_and_gradient(image, weight, frame)
        return value, grad

    variables = tuple(getattr(network.features, "variables", ())) + tuple(getattr(objective, "variables", ()))
    return backend.compile_step(gradient, SIGNATURE, variables)
