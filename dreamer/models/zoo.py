"""The ImageNet models Keras ships (``keras.applications``), ready to dream with.

Contract:

- ``ZOO`` lists each model: its Keras constructor, its preprocessing (a
  scheme of ``dreamer.models.preprocessing``), a default layer, and its two
  published weights files (with and without the classification head) with
  the MD5s Keras checks them against.
- ``architecture(entry)`` builds the network with random weights on inputs
  of any size (no download): enough to list its layers.
- ``load_zoo_model(entry, cache_dir, weights_path, progress)`` builds the
  network without its head on inputs of any size and loads the head-less
  weights: from ``weights_path`` (a local .h5; the file with the head works
  too), else from Keras' own cache (``$KERAS_HOME/models`` or
  ``~/.keras/models``), else downloads that file there, as
  ``keras.applications`` would. Offline without the file: a ModelError that
  names the file, its URL, the folder and ``--weights``.
- ``classify`` uses the network with its head at the size it was trained at
  (224 or 299), loaded the same way from the file with the head.
"""

from __future__ import annotations

import collections
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dreamer.models.download as download
from dreamer.errors import ModelError, first_line
from dreamer.models.base import ModelAdapter

KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclass(frozen=True)
class ZooEntry:
    """One Keras application and where its ImageNet weights come from."""

    name: str
    application: str  # the constructor's name in keras.applications
    description: str
    preprocessing: str
    default_layer: str
    url_folder: str
    top_file: str
    notop_file: str
    top_md5: str | None = None
    notop_md5: str | None = None
    size: int = 224
    aliases: tuple[str, ...] = ()
    min_size: int = 32  # the smallest input side the network accepts (valid-padded stems need more)
    licence: str = "see the Keras applications documentation"

    def url(self, file: str) -> str:
        return self.url_folder + file

    @property
    def source(self) -> str:
        return f"Keras applications ({self.url(self.notop_file)}), cached in {keras_models_dir()}"


def _tf_dim(prefix: str) -> tuple[str, str]:
    return f"{prefix}_weights_tf_dim_ordering_tf_kernels.h5", f"{prefix}_weights_tf_dim_ordering_tf_kernels_notop.h5"


ZOO: tuple[ZooEntry, ...] = (
    ZooEntry("inceptionv3", "InceptionV3", "Inception-v3, ImageNet (Keras; the TensorFlow tutorial's model)",
             "tf", "mixed5", KERAS_URL + "inception_v3/", *_tf_dim("inception_v3"),
             "9a0d58056eeedaa3f26cb7ebd46da564", "bcbd6486424b2319ff4ef7d526e38f63", 299,
             ("inception_v3", "inception-v3"), min_size=75, licence="MIT (weights trained by the Keras team)"),
    ZooEntry("vgg16", "VGG16", "VGG-16, ImageNet (Keras)", "caffe", "block4_conv3",
             KERAS_URL + "vgg16/", *_tf_dim("vgg16"),
             "64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc", 224, ("vgg-16",),
             licence="CC BY 4.0 (VGG, University of Oxford)"),
    ZooEntry("vgg19", "VGG19", "VGG-19, ImageNet (Keras)", "caffe", "block4_conv4",
             KERAS_URL + "vgg19/", *_tf_dim("vgg19"),
             "cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6", 224, ("vgg-19",),
             licence="CC BY 4.0 (VGG, University of Oxford)"),
    ZooEntry("resnet50", "ResNet50", "ResNet-50, ImageNet (Keras)", "caffe", "conv4_block3_out",
             KERAS_URL + "resnet/", *_tf_dim("resnet50"),
             "2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626", 224, ("resnet-50",),
             licence="MIT (Kaiming He's release)"),
    ZooEntry("mobilenetv2", "MobileNetV2", "MobileNetV2 1.0, ImageNet (Keras)", "tf", "block_12_add",
             KERAS_URL + "mobilenet_v2/", "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
             "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5", None, None, 224,
             ("mobilenet_v2", "mobilenet-v2")),
    ZooEntry("efficientnetb0", "EfficientNetB0", "EfficientNet-B0, ImageNet (Keras; rescales inside)", "none",
             "block5c_add", "https://storage.googleapis.com/keras-applications/", "efficientnetb0.h5",
             "efficientnetb0_notop.h5", "902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d",
             224, ("efficientnet-b0", "efficientnet_b0")),
    ZooEntry("densenet121", "DenseNet121", "DenseNet-121, ImageNet (Keras)", "torch", "conv4_block12_concat",
             KERAS_URL + "densenet/", *_tf_dim("densenet121"),
             "9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738", 224, ("densenet-121",)),
    ZooEntry("xception", "Xception", "Xception, ImageNet (Keras)", "tf", "block8_sepconv1_act",
             KERAS_URL + "xception/", *_tf_dim("xception"),
             "0a58e3b7378bc2990ea3b43d5981f1f6", "b0042744bf5b25fce3cb969f33bebb97", 299),
)


def keras_models_dir() -> Path:
    """Where Keras keeps downloaded weights: ``$KERAS_HOME/models``, else ``~/.keras/models``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def _candidate_dirs() -> list[Path]:
    # Keras itself falls back to /tmp/.keras when the home folder is not writable.
    return [keras_models_dir(), Path("/tmp/.keras/models")]


def build(entry: ZooEntry, include_top: bool = False):
    """The network with random weights: any input size without the head, ``entry.size`` with it.

    Its unnamed layers are numbered as in a fresh process (``conv2d``,
    ``conv2d_1``, ...), the names the catalog ships, whatever Keras built
    before in this process.
    """
    import keras

    constructor = getattr(keras.applications, entry.application)
    shape = (entry.size, entry.size, 3) if include_top else (None, None, 3)
    with _fresh_layer_numbers():
        return constructor(include_top=include_top, weights=None, input_shape=shape)


@contextmanager
def _fresh_layer_numbers():
    """Keras' per-process counters of automatic layer names, empty inside, restored after."""
    from keras.src.backend.common import global_state

    saved = global_state.get_global_attribute("object_name_uids")
    global_state.set_global_attribute("object_name_uids", collections.defaultdict(int))
    try:
        yield
    finally:
        global_state.set_global_attribute("object_name_uids", saved)


@dataclass
class ZooAdapter(ModelAdapter):
    """A Keras application without its head; ``classifier_model`` loads the head on demand."""

    entry: ZooEntry = None
    weights_path: Path | None = None
    progress: object = None
    _classifier: object = field(default=None, repr=False)

    def classifier_model(self):
        if self._classifier is None:
            self._classifier = _classifier(self.entry, self.weights_path, self.progress)
        return self._classifier


def architecture(entry: ZooEntry) -> ZooAdapter:
    """The network with random weights, to list its layers; nothing is downloaded."""
    return _adapter(entry, build(entry), None, None)


def load_zoo_model(entry: ZooEntry, cache_dir: Path, weights_path: Path | None = None, progress=None) -> ZooAdapter:
    """The head-less network with its ImageNet weights, on inputs of any size.

    Raises:
        ModelError: the weights are not to be had, or the file does not fit.
    """
    model = build(entry)
    if weights_path is not None:
        _load_into_headless(entry, model, Path(weights_path))
    else:
        cached = _cached(entry.notop_file) or _cached(entry.top_file)
        if cached is None:
            cached = _fetch(entry, entry.notop_file, entry.notop_md5, progress)
        _load_into_headless(entry, model, cached)
    return _adapter(entry, model, weights_path, progress)


def _adapter(entry: ZooEntry, model, weights_path, progress) -> ZooAdapter:
    from dreamer.models.labels import load_imagenet_labels
    from dreamer.models.preprocessing import scheme

    return ZooAdapter(
        name=entry.name,
        model=model,
        preprocess=scheme(entry.preprocessing),
        default_layer=entry.default_layer,
        min_size=entry.min_size,
        labels=load_imagenet_labels(),
        classify_size=entry.size,
        entry=entry,
        weights_path=weights_path,
        progress=progress,
    )


def _classifier(entry: ZooEntry, weights_path: Path | None, progress):
    model = build(entry, include_top=True)
    if weights_path is not None:
        path = Path(weights_path)
    else:
        path = _cached(entry.top_file) or _fetch(entry, entry.top_file, entry.top_md5, progress)
    try:
        model.load_weights(path)
    except (ValueError, OSError, KeyError) as exc:
        raise ModelError(
            f"{path}: cannot classify with {entry.name}: the weights do not fit the network with its "
            f"classification head ({first_line(exc)}); "
            f"classify needs {entry.top_file} from {entry.url(entry.top_file)}"
        ) from None
    return model


def _load_into_headless(entry: ZooEntry, model, path: Path) -> None:
    """Load the head-less file, or copy the convolutional part of the file with the head."""
    if not path.is_file():
        raise ModelError(f"weights file not found: {path}")
    try:
        model.load_weights(path)
        return
    except (ValueError, OSError, KeyError) as exc:
        first_error = first_line(exc)
    try:
        full = build(entry, include_top=True)
        full.load_weights(path)
    except (ValueError, OSError, KeyError):
        raise ModelError(
            f"{path}: not {entry.name} weights ({first_error}); expected {entry.notop_file} "
            f"or {entry.top_file} from {entry.url_folder}"
        ) from None
    copy_weights_in_order(full, model)


def copy_weights_in_order(source, target) -> None:
    """Copy weights layer by layer (weighted layers in order) from ``source`` into ``target``'s prefix."""
    sources = [layer for layer in source.layers if layer.weights]
    targets = [layer for layer in target.layers if layer.weights]
    if len(sources) < len(targets):
        raise ModelError("the weights file has fewer weighted layers than the network")
    for src, dst in zip(sources, targets):
        values = src.get_weights()
        if [v.shape for v in values] != [tuple(w.shape) for w in dst.weights]:
            raise ModelError(f"weights of layer {src.name} do not fit layer {dst.name}")
        dst.set_weights(values)


def _cached(file: str) -> Path | None:
    for folder in _candidate_dirs():
        path = folder / file
        if path.is_file():
            return path
    return None


def _fetch(entry: ZooEntry, file: str, md5: str | None, progress) -> Path:
    folder = keras_models_dir()
    try:
        return fetch(entry.url(file), folder / file, md5, progress)
    except download.ChecksumError as exc:
        raise ModelError(f"{exc}; nothing was kept, try again") from None
    except download.DownloadError as exc:
        raise ModelError(offline_message(entry, file, f"the download failed ({exc})")) from None


def fetch(url: str, destination: Path, digest: str | None, progress) -> Path:
    """Download ``url`` (a module attribute, so tests replace it and never touch the network)."""
    return download.download(url, destination, digest, progress)


def offline_message(entry: ZooEntry, file: str, reason: str) -> str:
    return (
        f"{entry.name} needs the weights file {file} from {entry.url(file)} and {reason}. "
        f"On a machine with internet, download it and either pass --weights /path/to/{file} "
        f"or copy it into {keras_models_dir()}/ (where Keras looks for it)"
    )
