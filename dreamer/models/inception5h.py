"""GoogLeNet as TensorFlow published it for DeepDream in 2015 ("inception5h").

Contract:

- The network is the frozen GraphDef ``tensorflow_inception_graph.pb`` from
  ``inception5h.zip`` (Apache-2.0), with its class names in
  ``imagenet_comp_graph_label_strings.txt``. Its input tensor is ``input``:
  RGB pixels on the 0-255 scale minus 117 (``preprocess``).
- Layer names are the graph's op names (``conv2d0``, ``mixed3a``, ``mixed4c``
  ...; ``X_pre_relu`` is the same layer before its ReLU). They and their
  channel counts are listed here (``LAYERS``), so they are known before the
  file is (``architecture()`` lists them with no download).
- ``load_inception5h(cache_dir, weights_path, progress)`` finds the graph:
  a local ``weights_path`` (the zip or the .pb) is checked against the
  published SHA-256 and installed in ``cache_dir/inception5h/``; otherwise
  the cached copy is used (checked again); otherwise the zip is downloaded
  (``progress(done, total)`` reports bytes), checked, and only the two files
  named above are extracted, atomically. Any failure leaves nothing in the
  cache and raises a ModelError that says which file is needed, where it
  comes from and how to hand it over.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import dreamer.models.download as download
from dreamer.backend import require_tensorflow
from dreamer.errors import ModelError
from dreamer.fileio import atomic_path
from dreamer.models.base import LayerInfo
from dreamer.models.graphdef import GraphAdapter, ImportedGraph, read_graph_def

MODEL_NAME = "inception5h"
URL = "https://storage.googleapis.com/download.tensorflow.org/models/inception5h.zip"
ZIP_SHA256 = "d13569f6a98159de37e92e9c8ec4dae8f674fbf475f69fe6199b514f756d4364"
GRAPH_FILE = "tensorflow_inception_graph.pb"
GRAPH_SHA256 = "a39b08b826c9d5a5532ff424c03a3a11a202967544e389aca4b06c2bd8aef63f"
LABELS_FILE = "imagenet_comp_graph_label_strings.txt"
INPUT = "input"
LOGITS = "softmax2_pre_activation"
IMAGENET_MEAN = 117.0
DEFAULT_LAYER = "mixed4c"
MIN_SIZE = 32
#: The environment variable the CLI reads for a local copy of the zip or the .pb.
ENV_VAR = "DREAMER_INCEPTION5H"

_STEM = (("conv2d0", 64), ("conv2d1", 64), ("conv2d2", 192))
_BRANCHES = ("1x1", "3x3_bottleneck", "3x3", "5x5_bottleneck", "5x5", "pool_reduce")
#: Each mixed block's branch widths, in ``_BRANCHES`` order; the block's width is 1x1 + 3x3 + 5x5 + pool_reduce.
_MIXED = (
    ("mixed3a", (64, 96, 128, 16, 32, 32)),
    ("mixed3b", (128, 128, 192, 32, 96, 64)),
    ("mixed4a", (192, 96, 204, 16, 48, 64)),
    ("mixed4b", (160, 112, 224, 24, 64, 64)),
    ("mixed4c", (128, 128, 256, 24, 64, 64)),
    ("mixed4d", (112, 144, 288, 32, 64, 64)),
    ("mixed4e", (256, 160, 320, 32, 128, 128)),
    ("mixed5a", (256, 160, 320, 48, 128, 128)),
    ("mixed5b", (384, 192, 384, 48, 128, 128)),
)
#: The poolings between the blocks: (name, the block it follows); each halves the size ("SAME", stride 2).
_POOLS = (("maxpool4", "mixed3b"), ("maxpool10", "mixed4e"))
#: The auxiliary heads: (head, the block it branches from): a 5x5/3 average pool then a 1x1 conv to 128.
_HEADS = (("head0", "mixed4a"), ("head1", "mixed4d"))
HEAD_CHANNELS = 128

#: A size step from the input: ("same", kernel, stride) rounds up, ("valid", kernel, stride) drops the border.
_HALF = ("same", 3, 2)


def _stem() -> list[tuple[str, int, tuple]]:
    """(name, channels, size steps from the input) of the layers up to ``maxpool1``."""
    conv2d0 = (("same", 7, 2),)
    pooled = conv2d0 + (_HALF,)
    rows = [("conv2d0_pre_relu", 64, conv2d0), ("conv2d0", 64, conv2d0), ("maxpool0", 64, pooled),
            ("localresponsenorm0", 64, pooled)]
    for name, channels in _STEM[1:]:
        rows += [(f"{name}_pre_relu", channels, pooled), (name, channels, pooled)]
    rows += [("localresponsenorm1", 192, pooled), ("maxpool1", 192, pooled + (_HALF,))]
    return rows


def _block(block: str, widths: tuple, steps: tuple, in_channels: int) -> list[tuple[str, int, tuple]]:
    rows = []
    for branch, channels in zip(_BRANCHES, widths):
        conv = f"{block}_{branch}"
        if branch == "pool_reduce":
            rows.append((f"{block}_pool", in_channels, steps))
        rows += [(f"{conv}_pre_relu", channels, steps), (conv, channels, steps)]
    rows.append((block, widths[0] + widths[2] + widths[4] + widths[5], steps))
    return rows


def _head(head: str, steps: tuple, in_channels: int) -> list[tuple[str, int, tuple]]:
    pooled = steps + (("valid", 5, 3),)
    return [(f"{head}_pool", in_channels, pooled), (f"{head}_bottleneck_pre_relu", HEAD_CHANNELS, pooled),
            (f"{head}_bottleneck", HEAD_CHANNELS, pooled)]


def _rows() -> list[tuple[str, int, tuple]]:
    """Every 4-D layer of the graph (but the bare ``/conv`` ops), in network order, with its size steps."""
    rows = _stem()
    steps, channels = rows[-1][2], 192
    pools, heads = dict((after, pool) for pool, after in _POOLS), dict((after, head) for head, after in _HEADS)
    for block, widths in _MIXED:
        rows += _block(block, widths, steps, channels)
        channels = rows[-1][1]
        if block in heads:
            rows += _head(heads[block], steps, channels)
        if block in pools:
            steps = steps + (_HALF,)
            rows.append((pools[block], channels, steps))
    rows.append(("avgpool0", channels, steps + (("valid", 7, 1),)))
    return rows


_ROWS = _rows()
#: Every dreamable layer, in network order: conv outputs before and after their ReLU, poolings, LRNs, blocks.
LAYERS = tuple(LayerInfo(name, (None, None, channels)) for name, channels, _ in _ROWS)
_STEPS = {name: steps for name, _, steps in _ROWS}
#: The classic names: the stem convolutions and the mixed blocks.
CLASSIC_LAYERS = tuple(name for name, _ in _STEM) + tuple(block for block, _ in _MIXED)
LAYER_NOTE = (
    "the classic DeepDream layers are conv2d0-2 and mixed3a ... mixed5b; "
    "NAME_pre_relu is a layer before its ReLU; any other op of the graph can be named too"
)


def layer_shapes(height: int, width: int) -> dict[str, tuple]:
    """Each layer's (H, W, C) for an input of ``height`` x ``width`` (0 where the input is too small)."""
    shapes = {}
    for name, channels, steps in _ROWS:
        h, w = height, width
        for padding, kernel, stride in steps:
            h, w = _step(h, padding, kernel, stride), _step(w, padding, kernel, stride)
        shapes[name] = (h, w, channels)
    return shapes


def _step(size: int, padding: str, kernel: int, stride: int) -> int:
    if padding == "same":
        return -(-size // stride)
    return max(0, (size - kernel) // stride + 1)


def preprocess(images):
    """[0, 1] RGB (NHWC) -> the graph's input: 0-255 RGB minus 117."""
    return images * 255.0 - IMAGENET_MEAN


def cache_folder(cache_dir: Path) -> Path:
    return Path(cache_dir) / MODEL_NAME


def architecture() -> GraphAdapter:
    """The layers alone, for listing and layer look-ups: no file needed."""
    return _adapter(None, None)


def load_inception5h(cache_dir: Path, weights_path: Path | None = None, progress=None) -> GraphAdapter:
    """GoogLeNet ready to dream with (see the module docstring for where the file comes from).

    Raises:
        ModelError: the file can't be had, or is damaged or another file.
    """
    require_tensorflow(f"{MODEL_NAME} (a TensorFlow GraphDef)")
    graph_path, labels_path = ensure_files(Path(cache_dir), weights_path, progress)
    graph = ImportedGraph(read_graph_def(graph_path), INPUT)
    labels = None
    if labels_path is not None and labels_path.is_file():
        labels = [line.strip() for line in labels_path.read_text(encoding="utf-8").splitlines()]
    return _adapter(graph, labels)


def ensure_files(cache_dir: Path, weights_path: Path | None = None, progress=None) -> tuple[Path, Path | None]:
    """The checked graph file and the labels file (None if not to be had), installing them if needed."""
    folder = cache_folder(cache_dir)
    graph_path, labels_path = folder / GRAPH_FILE, folder / LABELS_FILE
    if weights_path is not None:
        return _install_local(Path(weights_path), folder)
    if graph_path.is_file():
        try:
            download.check_sha256(graph_path, GRAPH_SHA256, str(graph_path))
            return graph_path, labels_path if labels_path.is_file() else None
        except download.ChecksumError:
            _remove(graph_path)
    _fetch_and_install(folder, progress)
    return graph_path, labels_path


class Unavailable(ModelError):
    """The graph is neither cached nor handed over, and the download failed.

    ``detail`` is the failure alone (no URL), for a short message.
    """

    def __init__(self, reason: str, cache_dir: Path, detail: str = ""):
        super().__init__(offline_message(reason, cache_dir))
        self.reason = reason
        self.detail = detail or reason


def offline_message(reason: str, cache_dir: Path) -> str:
    """The one-line error when the graph is not cached and cannot be downloaded."""
    return (
        f"inception5h needs {GRAPH_FILE} from {URL} (Apache-2.0), and {reason}. "
        f"On a machine with internet, download that zip, then pass it with --weights inception5h.zip "
        f"(or set {ENV_VAR}=/path/to/inception5h.zip); the extracted {GRAPH_FILE} works too, "
        f"as does copying it into {cache_folder(cache_dir)}/"
    )


def _adapter(graph: ImportedGraph | None, labels) -> GraphAdapter:
    return GraphAdapter(
        name=MODEL_NAME,
        model=graph,
        preprocess=preprocess,
        default_layer=DEFAULT_LAYER,
        min_size=MIN_SIZE,
        labels=labels,
        static_layers=LAYERS,
        classifier_output=LOGITS,
        layer_note=LAYER_NOTE,
        shape_rule=layer_shapes,
    )


def _fetch_and_install(folder: Path, progress) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"{folder}: cannot create the cache folder ({exc.strerror or exc})") from None
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as tmp:
        zip_path = Path(tmp) / "inception5h.zip"
        try:
            fetch(URL, zip_path, ZIP_SHA256, progress)
        except download.ChecksumError as exc:
            raise ModelError(f"the downloaded inception5h.zip is damaged or not the published file ({exc}); "
                             "nothing was cached, try again") from None
        except download.DownloadError as exc:
            text = str(exc)
            detail = text[len(URL) + 2:] if text.startswith(f"{URL}: ") else text
            raise Unavailable(f"the download failed ({exc})", folder.parent, detail) from None
        _install_zip(zip_path, folder)


def fetch(url: str, destination: Path, sha256: str, progress) -> Path:
    """Download ``url`` (a module attribute, so tests replace it and never touch the network)."""
    return download.download(url, destination, sha256, progress)


def _install_local(source: Path, folder: Path) -> tuple[Path, Path | None]:
    """Check a user's zip or .pb and install it in the cache."""
    if not source.is_file():
        raise ModelError(f"{source}: no such file (expected inception5h.zip or {GRAPH_FILE})")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"{folder}: cannot create the cache folder ({exc.strerror or exc})") from None
    if source.suffix.lower() == ".zip":
        _install_zip(source, folder)
        return folder / GRAPH_FILE, folder / LABELS_FILE
    try:
        download.check_sha256(source, GRAPH_SHA256, str(source))
    except download.ChecksumError as exc:
        raise ModelError(f"{exc}; expected the {GRAPH_FILE} of {URL}") from None
    graph_path = folder / GRAPH_FILE
    with atomic_path(graph_path) as tmp:
        tmp.write_bytes(source.read_bytes())
    labels_beside = source.with_name(LABELS_FILE)
    labels_path = folder / LABELS_FILE
    if labels_beside.is_file():
        with atomic_path(labels_path) as tmp:
            tmp.write_bytes(labels_beside.read_bytes())
    return graph_path, labels_path if labels_path.is_file() else None


def _install_zip(zip_path: Path, folder: Path) -> None:
    """Extract the graph and labels into a staging folder, check the graph, then move both in."""
    with tempfile.TemporaryDirectory(dir=folder, prefix=".extract-") as tmp:
        staged = {name: Path(tmp) / name for name in (GRAPH_FILE, LABELS_FILE)}
        download.extract_members(zip_path, staged)
        try:
            download.check_sha256(staged[GRAPH_FILE], GRAPH_SHA256, f"{zip_path}: {GRAPH_FILE}")
        except download.ChecksumError as exc:
            raise ModelError(f"{exc}; expected the zip from {URL}") from None
        for name, path in staged.items():
            with atomic_path(folder / name) as final_tmp:
                path.replace(final_tmp)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
