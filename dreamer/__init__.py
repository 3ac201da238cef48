"""dreamer: make a neural network's favourite patterns grow out of a photo.

``from dreamer import dream, Dreamer, save`` are the public entry points
(``dreamer.api``). TensorFlow is imported lazily, so importing this package
(and ``dream --help``) stays fast; ``python -m dreamer`` runs the CLI.
"""

__version__ = "0.1.0"

__all__ = ["dream", "Dreamer", "save", "__version__"]


def __getattr__(name):
    if name in ("dream", "Dreamer", "save"):
        from dreamer import api

        return getattr(api, name)
    raise AttributeError(f"module 'dreamer' has no attribute {name!r}")
