"""``examples()``: the real images, and the patches of them, that excite a channel most (and least).

The contract: a model, layers, a channel choice and a folder of images in;
per (layer, channel) a ``ChannelExamples`` out, with the top-k images by
pooled (mean) activation, the top-k patches (the receptive field of the
spatial maximum, from ``dreamer.dataset.receptive``) and the k
least-activating images. The images run through the network once, for all
layers together (``collect``), their stats cached per layer for every
channel (``store``), then ranked with bounded memory (``rank``).
``write_examples`` (``sheets``) turns the result into PNGs and JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from dreamer.dataset.collect import Picture, collect, find_pictures
from dreamer.dataset.rank import ChannelChoice, choose_channels, summarise
from dreamer.dataset.receptive import Field, receptive_field
from dreamer.dataset.store import ActivationStore, model_key
from dreamer.errors import DreamerError, ModelError

#: The input side the images are run at.
DEFAULT_SIZE = 224
#: Examples per row of a sheet (top images, top patches, lowest images).
DEFAULT_K = 9
DEFAULT_BATCH = 16
#: A sheet tile's side in pixels.
DEFAULT_TILE = 96


@dataclass(frozen=True)
class ExamplesRequest:
    """What to find: layers (empty: the model's default), which channels, k, the input size and batch."""

    layers: tuple[str, ...] = ()
    choice: ChannelChoice = field(default_factory=ChannelChoice)
    k: int = DEFAULT_K
    size: int = DEFAULT_SIZE
    batch: int = DEFAULT_BATCH


@dataclass(frozen=True)
class Example:
    """One image (or patch of one): its path, score, and for a patch its box in the original image's pixels
    (left, top, right, bottom) and the map position (row, col) it comes from."""

    path: Path
    score: float
    box: tuple[float, float, float, float] | None = None
    position: tuple[int, int] | None = None


@dataclass(frozen=True)
class ChannelExamples:
    """A channel's top images, top patches and lowest images, best first."""

    layer: str
    channel: int
    top: tuple[Example, ...]
    patches: tuple[Example, ...]
    bottom: tuple[Example, ...]


def check_layers(adapter, layers: Sequence[str], size: int) -> dict[str, Field]:
    """Each layer's receptive field at ``size`` px, checked: it must exist and have spatial extent.

    Raises:
        ModelError: an unknown layer (naming the closest), one without
            spatial extent, or one whose field can't be followed.
    """
    fields = {}
    for layer in layers:
        if layer not in adapter.layer_names():
            if _is_class_output(adapter, layer):
                raise ModelError(f"layer {layer!r} has no spatial extent (it is the class output), so it has no "
                                 f"patches: choose a layer with a 4-D output")
            adapter.layer_info(layer)  # raises, naming the closest
        fields[layer] = receptive_field(adapter.model, layer, (size, size))
    return fields


def _is_class_output(adapter, layer: str) -> bool:
    try:
        return adapter.class_layer().name == layer
    except (ModelError, AttributeError):
        return False


def check_channel_numbers(adapter, layer: str, channels: Sequence[int]) -> None:
    """Raise a ModelError for a channel the layer does not have (before any image runs)."""
    count = adapter.layer_info(layer).channels
    bad = [c for c in channels if not 0 <= c < count]
    if bad:
        raise ModelError(f"channel {bad[0]} is out of range: layer {layer!r} has {count} channels (0-{count - 1})")


def store_for(adapter, cache_root: Path, size: int) -> ActivationStore:
    """The activation cache of this network (by name and weights) at ``size`` px."""
    return ActivationStore(Path(cache_root), model_key(adapter.name, adapter.model.get_weights()), size)


def find_examples(adapter, pictures: Sequence[Picture], request: ExamplesRequest, store: ActivationStore,
                  progress: Callable[[int, int], None] | None = None) -> list[ChannelExamples]:
    """Run the pictures not cached yet, then rank each layer's chosen channels.

    Raises:
        ModelError: a bad layer (see ``check_layers``).
        DreamerError: a channel out of range.
    """
    layers = request.layers or (adapter.default_layer,)
    fields = check_layers(adapter, layers, request.size)
    if request.choice.kind == "list":
        for layer in layers:
            check_channel_numbers(adapter, layer, request.choice.channels)
    collect(adapter, pictures, layers, store, request, progress)
    wanted = {p.hash: i for i, p in enumerate(pictures)}
    found = []
    for layer in layers:
        summary = summarise(store, layer, wanted, request.k)
        for channel in choose_channels(summary, request.choice):
            found.append(channel_examples(summary, layer, channel, pictures, (fields[layer], request.size)))
    return found


def channel_examples(summary, layer: str, channel: int, pictures: Sequence[Picture],
                     geometry: tuple[Field, int]) -> ChannelExamples:
    """One channel's examples out of a layer's ``Summary`` (``geometry``: its field and the input size)."""
    field_, size = geometry

    def images(top) -> tuple[Example, ...]:
        pairs = zip(top.ids[channel], top.scores()[channel])
        return tuple(Example(pictures[i].path, float(s)) for i, s in pairs if i >= 0)

    patches = []
    for i, score, (row, col) in zip(summary.patches.ids[channel], summary.patches.scores()[channel],
                                    summary.patches.extra[channel]):
        if i >= 0:
            box = original_box(pictures[i].path, field_.box(int(row), int(col)), size)
            patches.append(Example(pictures[i].path, float(score), box, (int(row), int(col))))
    return ChannelExamples(layer, channel, images(summary.top), tuple(patches), images(summary.bottom))


def original_box(path: Path, box: tuple[int, int, int, int], size: int) -> tuple[float, float, float, float]:
    """A box on the network's size x size input -> the same region in the original image's pixels."""
    from PIL import Image

    with Image.open(path) as opened:
        width, height = opened.size
        if opened.getexif().get(0x0112, 1) in (5, 6, 7, 8):
            width, height = height, width
    side = min(width, height)
    left, top, scale = (width - side) / 2, (height - side) / 2, side / size
    return tuple(round(v, 2) for v in (left + box[0] * scale, top + box[1] * scale,
                                        left + box[2] * scale, top + box[3] * scale))


def examples(model, images, layers: Sequence[str] | str | None = None, channels: Sequence[int] | None = None, *,
             most_active: int | None = None, most_selective: int | None = None, k: int = DEFAULT_K,
             size: int = DEFAULT_SIZE, batch: int = DEFAULT_BATCH, output=None, cache_dir=None,
             overwrite: bool = False, progress: Callable[[int, int], None] | None = None) -> list[ChannelExamples]:
    """The images of a folder that excite each chosen channel most and least, and the patches that do.

    Args:
        model: a registered name, a model file, a ``keras.Model`` or an adapter.
        images: a folder of images (searched recursively).
        layers: one layer name or several (default: the model's default layer).
        channels: channel numbers; or give ``most_active`` / ``most_selective``
            N instead (default: the 8 most active).
        k: images and patches per row.
        size: the square input side the images are run at.
        output: a folder for the sheets and ``examples.json`` (None: write nothing).
        cache_dir: where models and the activation cache live (default: the user's cache).
        progress: called with (images done, images to do).

    Raises:
        DreamerError: no images, an unknown or non-spatial layer, channels out of range.
    """
    from dreamer.dataset.sheets import write_examples
    from dreamer.fileio import default_cache_dir
    from dreamer.models import load_model

    cache_root = Path(cache_dir) if cache_dir else default_cache_dir()
    pictures = find_pictures(Path(images))
    adapter = load_model(model, cache_root)
    request = ExamplesRequest((layers,) if isinstance(layers, str) else tuple(layers or ()),
                              choice_from(channels, most_active, most_selective), k, size, batch)
    found = find_examples(adapter, pictures, request, store_for(adapter, cache_root / "activations", size), progress)
    if output is not None:
        write_examples(found, Path(output), DEFAULT_TILE, overwrite, {"model": adapter.name, "size": size, "k": k})
    return found


def choice_from(channels: Sequence[int] | None, most_active: int | None, most_selective: int | None) -> ChannelChoice:
    """The ChannelChoice of ``examples()``'s keywords (at most one of them given).

    Raises:
        DreamerError: more than one given.
    """
    given = [name for name, value in (("channels", channels), ("most_active", most_active),
                                      ("most_selective", most_selective)) if value is not None]
    if len(given) > 1:
        raise DreamerError(f"give one of channels, most_active, most_selective, not {' and '.join(given)}")
    if channels is not None:
        return ChannelChoice("list", tuple(int(c) for c in channels))
    if most_selective is not None:
        return ChannelChoice("selective", count=most_selective)
    return ChannelChoice("active", count=most_active or ChannelChoice().count)


