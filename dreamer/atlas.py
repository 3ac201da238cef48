"""The channel atlas: what each channel of a layer responds to, on one contact sheet.

``render_channels`` makes each channel's feature visualisation: gradient
ascent on the channel's mean activation from a grey start with a little
seeded noise, over a few octaves, with jitter and small random rotations and
scale changes at every step (so the pattern must survive them, which keeps
it from being pixel noise), and the Laplacian-pyramid gradient normalisation.
The objective's channel is a TensorFlow variable, so the gradient is traced
once for the whole layer, not once per channel. That is the ``pixels``
parameterisation; ``render_channels_fourier`` renders the same units in the
Fourier parameterisation (``dreamer.param``), many channels in one batch,
with optional diverse variants of each. A unit is a channel of a 4-D layer
or, on the class output, a class (``class_units``). An ``AtlasPlan`` says
what a sheet shows (``plan_sheet`` makes one from the command line's words);
``contact_sheet`` lays the tiles out in a grid with a label under each.

Nothing here prints or saves; progress goes to a callback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from dreamer.api import objective_gradient
from dreamer.atlas_settings import ATLAS_CONFIG, ATLAS_PARAM
from dreamer.atlas_settings import ATLAS_TILE_SIZE as TILE_SIZE
from dreamer.config import DreamConfig
from dreamer.engine import Progress, ascend
from dreamer.errors import DreamerError, ModelError
from dreamer.models.capabilities import check_class_output_any_size, is_class_layer
from dreamer.objectives import Objective, activation_loss, bind, check_channels, class_logit, parse_channel_list
from dreamer.param.pixels import start_image
from dreamer.param.render import UnitScores, fourier_renderer
from dreamer.param.settings import FOURIER_ATLAS_CONFIG, PARAMETERISATIONS, FourierConfig

__all__ = ["AtlasPlan", "contact_sheet", "plan_sheet", "render_channels", "render_channels_fourier", "render_plan",
           "start_image"]

#: Variant ``v`` of a pixel tile starts from seed ``seed + c + v * VARIANT_SEED_STEP``.
VARIANT_SEED_STEP = 100_003


@dataclass(frozen=True)
class AtlasPlan:
    """What a sheet shows and how it is rendered.

    Attributes:
        layer: the layer whose units are rendered (the class output for classes).
        units: channel numbers, or class indices.
        labels: the text under each unit's tiles.
        param: ``"fft"`` or ``"pixels"`` (see ``dreamer.param``).
        variants: tiles per unit (a row per unit when above 1).
        diversity_layer: the 4-D layer the variants must differ at (fft);
            set for class sheets, None for channels (their own layer).
    """

    layer: str
    units: tuple[int, ...]
    labels: tuple[str, ...]
    param: str = ATLAS_PARAM
    variants: int = 1
    diversity_layer: str | None = None

    @property
    def name(self) -> str:
        """The output name's part: ``<layer>_<first>-<last>``, ``<layer>``, or ``class_<names>``."""
        if self.diversity_layer is not None:
            return "class_" + "+".join(self.labels)
        units = self.units
        return f"{self.layer}_{units[0]}-{units[-1]}" if units == tuple(range(units[0], units[-1] + 1)) else self.layer


def plan_sheet(adapter, layer: str | None = None, channels: str | None = None, classes: Sequence[str] = (),
               param: str = ATLAS_PARAM, variants: int = 1) -> AtlasPlan:
    """The sheet to render: channels of ``layer`` (default: the model's), or ``classes`` of the classifier.

    With classes, ``layer`` (default: the model's) is where the variants must differ.

    Raises:
        DreamerError: classes and channels together, an unknown layer, class
            or parameterisation, a channel out of range.
    """
    if param not in PARAMETERISATIONS:
        raise DreamerError(f"unknown parameterisation {param!r}; choose {' or '.join(PARAMETERISATIONS)}")
    if classes:
        if channels is not None:
            raise DreamerError("--class and --channels can't be combined: a sheet shows channels or classes")
        diversity_layer = layer or adapter.default_layer
        adapter.layer_info(diversity_layer)
        class_layer, indices, labels = class_units(adapter, classes)
        return AtlasPlan(class_layer, tuple(indices), tuple(labels), param, variants, diversity_layer)
    layer = layer or adapter.default_layer
    chosen = channels_to_render(adapter, layer, channels)
    return AtlasPlan(layer, chosen, tuple(str(c) for c in chosen), param, variants)


def render_plan(adapter, plan: AtlasPlan, pixel_config: DreamConfig = ATLAS_CONFIG,
                fourier_config: FourierConfig = FOURIER_ATLAS_CONFIG, size: int = TILE_SIZE,
                progress: Callable[[int, Progress], None] | None = None) -> list[np.ndarray]:
    """The plan's tiles, unit by unit, each unit's variants together.

    Args:
        progress: called with (a position in ``plan.units``, the Progress of a step).

    Raises:
        ModelError: an unknown layer or a unit out of range.
    """
    if plan.param == "pixels":
        return render_channels(adapter, plan.layer, plan.units, pixel_config, size, progress, plan.variants)
    return render_channels_fourier(adapter, plan.layer, plan.units, fourier_config, size, progress,
                                   plan.variants, plan.diversity_layer)


def plan_steps(plan: AtlasPlan, pixel_config: DreamConfig, fourier_config: FourierConfig) -> int:
    """How many progress events ``render_plan`` reports (an octave skipped for size may make it fewer)."""
    if plan.param == "pixels":
        return len(plan.units) * plan.variants * pixel_config.octaves * pixel_config.iterations
    per_batch = max(1, fourier_config.batch // plan.variants)
    return math.ceil(len(plan.units) / per_batch) * fourier_config.steps


class ChosenChannel(Objective):
    """One channel of a layer, the channel held in a TF variable so it can change without retracing."""

    def __init__(self, layer_name: str, loss: str = "mean"):
        import tensorflow as tf

        self.layer = layer_name
        self.loss = loss
        self.channel = tf.Variable(0, dtype=tf.int32, trainable=False, name="atlas_channel")

    def layer_names(self) -> tuple[str, ...]:
        return (self.layer,)

    def __call__(self, activations):
        import tensorflow as tf

        return activation_loss(tf.gather(activations[self.layer], self.channel, axis=-1), self.loss)

    @property
    def name(self) -> str:
        return f"{self.layer}:{int(self.channel.numpy())}"


def channels_to_render(adapter, layer: str, text: str | None) -> tuple[int, ...]:
    """``--channels`` text (``0-15``, ``3,7,9``, ``all``; None: the first 16) -> channel numbers, checked.

    Raises:
        DreamerError: text that does not parse, an unknown layer or a channel out of range.
    """
    info = adapter.layer_info(layer)
    if text is None:
        channels = tuple(range(min(16, info.channels)))
    elif text.strip().lower() == "all":
        channels = tuple(range(info.channels))
    else:
        channels = tuple(dict.fromkeys(parse_channel_list(text)))
    check_channels(adapter, layer, channels)
    return channels


def render_channels(
    adapter,
    layer_name: str,
    channels: Sequence[int],
    config: DreamConfig = ATLAS_CONFIG,
    size: int = TILE_SIZE,
    progress: Callable[[int, Progress], None] | None = None,
    variants: int = 1,
) -> list[np.ndarray]:
    """Each unit's visualisation by pixel ascent, as size x size float32 images in [0, 1].

    Unit ``c`` uses seed ``config.seed + c``, so a unit looks the same
    whichever others are rendered with it. With ``variants``, each unit's
    variants follow it; variant ``v`` adds ``v * VARIANT_SEED_STEP`` to the
    seed (they differ by their start and moves only: no diversity term).

    Args:
        progress: called with (position in ``channels``, the engine's Progress).

    Raises:
        ModelError: an unknown layer or a unit out of range.
    """
    check_units(adapter, layer_name, channels)
    objective = ChosenChannel(layer_name)
    gradient = objective_gradient(adapter, objective)
    tiles = []
    for position, c in enumerate(channels):
        objective.channel.assign(int(c))
        report = None if progress is None else (lambda event, p=position: progress(p, event))
        for variant in range(variants):
            seeded = replace(config, seed=config.seed + int(c) + variant * VARIANT_SEED_STEP)
            tiles.append(ascend(start_image(size, seeded.seed), gradient, seeded, report))
    return tiles


def render_channels_fourier(
    adapter,
    layer_name: str,
    channels: Sequence[int],
    config: FourierConfig = FOURIER_ATLAS_CONFIG,
    size: int = TILE_SIZE,
    progress: Callable[[int, Progress], None] | None = None,
    variants: int = 1,
    diversity_layer: str | None = None,
) -> list[np.ndarray]:
    """Each unit's visualisation in the Fourier parameterisation; a unit's variants follow it.

    Args:
        diversity_layer: the 4-D layer whose Gram matrices the variants must
            differ in (default: ``layer_name``; give one for class units).
        progress: called with (position in ``channels`` of the batch's
            first unit, the Progress of a step).

    Raises:
        ModelError: an unknown layer or a unit out of range.
    """
    check_units(adapter, layer_name, channels)
    renderer = fourier_renderer(adapter, UnitScores(layer_name), diversity_layer or layer_name)
    per_batch = max(1, config.batch // variants)
    report = None if progress is None else (
        lambda event: progress(min(event.octave * per_batch, len(channels) - 1), event))
    return list(renderer.render((size, size), list(channels), variants, config, report))


def check_units(adapter, layer_name: str, units: Sequence[int]) -> None:
    """Channels of a 4-D layer, or classes of the class output, checked against the model.

    Raises:
        ModelError: an unknown layer or a unit out of range.
    """
    if is_class_layer(adapter, layer_name):
        count = adapter.class_layer().channels
        bad = [u for u in units if not 0 <= u < count]
        if bad:
            raise ModelError(f"class {bad[0]} is out of range: model {adapter.name!r} has {count} classes")
        return
    check_channels(adapter, layer_name, units)


def class_units(adapter, queries: Sequence[str]) -> tuple[str, list[int], list[str]]:
    """Class names or indices -> (the class output's layer, their indices, their labels).

    Raises:
        ModelError: the model has no class output, or a class is unknown
            (naming the closest labels).
    """
    bound = [bind(class_logit(query), adapter) for query in queries]
    labels = [b.label if b.label is not None else str(b.index) for b in bound]
    check_class_output_any_size(adapter, bound[0].layer)
    return bound[0].layer, [b.index for b in bound], labels


def contact_sheet(tiles: Sequence[np.ndarray], labels: Sequence[str], columns: int | None = None,
                  gap: int = 4, label_height: int = 14):
    """The tiles in a grid (about square) on white, each with its label centred under it; a PIL image."""
    from PIL import Image, ImageDraw

    from dreamer.images import to_pil

    count = len(tiles)
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    tile_h, tile_w = tiles[0].shape[:2]
    cell_w, cell_h = tile_w + gap, tile_h + label_height + gap
    sheet = Image.new("RGB", (columns * cell_w + gap, rows * cell_h + gap), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (tile, label) in enumerate(zip(tiles, labels)):
        x = gap + (i % columns) * cell_w
        y = gap + (i // columns) * cell_h
        sheet.paste(to_pil(tile), (x, y))
        label = fitted_label(draw, label, tile_w)
        left, top, right, bottom = draw.textbbox((0, 0), label)
        draw.text((x + (tile_w - (right - left)) / 2, y + tile_h + (label_height - (bottom - top)) / 2 - top),
                  label, fill="black")
    return sheet


def fitted_label(draw, label: str, width: int) -> str:
    """``label``, shortened with '..' until it fits in ``width`` pixels."""
    if draw.textlength(label) <= width:
        return label
    while len(label) > 1 and draw.textlength(label + "..") > width:
        label = label[:-1]
    return label + ".."
