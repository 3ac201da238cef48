"""dreamer: make a neural network's favourite patterns grow out of a photo.

``from dreamer import dream`` is the public entry point. TensorFlow is imported
lazily, so importing this package (and ``dream --help``) stays fast.
"""

__version__ = "0.1.0"

__all__ = ["dream", "__version__"]


def __getattr__(name):
    if name == "dream":
        from dreamer.api import dream

        return dream
    raise AttributeError(f"module 'dreamer' has no attribute {name!r}")
