"""dreamer: make a neural network's favourite patterns grow out of a photo.

``from dreamer import dream`` is the public entry point; ``from dreamer import
Dreamer`` keeps a model loaded for many images, and ``from dreamer import
save`` writes a result with every setting it carries; ``from dreamer import
examples`` finds the images of a folder that excite a channel; ``from dreamer import
explain`` makes attribution maps (``dreamer.attribution``). TensorFlow is imported
lazily, so importing this package (and ``dream --help``) stays fast;
``python -m dreamer`` runs the CLI.
"""

from dreamer.version import __version__

__all__ = ["DreamConfig", "Dreamer", "FourierConfig", "dream", "examples", "explain", "save", "__version__"]


def __getattr__(name):
    if name in ("dream", "Dreamer", "save"):
        from dreamer import api

        return getattr(api, name)
    if name == "explain":
        from dreamer.attribution.api import explain

        return explain
    if name == "examples":
        from dreamer.dataset.examples import examples

        return examples
    if name == "DreamConfig":
        from dreamer.config import DreamConfig

        return DreamConfig
    if name == "FourierConfig":  # the settings of Dreamer.render(..., "fft", config)
        from dreamer.param.settings import FourierConfig

        return FourierConfig
    raise AttributeError(f"module 'dreamer' has no attribute {name!r}")
