"""The engine: gradient ascent on an image's pixels, one subject a module.

- ``ascent``: one step and the octaves (``ascend``, ``ascent_step``);
- ``gradient``: the compiled gradient of an objective (``ObjectiveGradient``);
- ``tiles``: the gradient of a large image, tile by tile;
- ``transforms``: random rotations and scalings before a step;
- ``filters``: Laplacian-pyramid normalisation, total variation;
- ``arrays``: memory-bounded array helpers;
- ``progress``: what the engine reports.

The engine receives a ready feature network from ``dreamer.models`` and an
objective from ``dreamer.objectives``; it prints and saves nothing.
"""

from dreamer.config import DreamConfig
from dreamer.engine.ascent import NumericalError, ascend, ascent_step, octave_shapes
from dreamer.engine.gradient import ObjectiveGradient, activations_of
from dreamer.engine.progress import Progress, ProgressCallback

__all__ = [
    "DreamConfig",
    "NumericalError",
    "ObjectiveGradient",
    "Progress",
    "ProgressCallback",
    "activations_of",
    "ascend",
    "ascent_step",
    "octave_shapes",
]
