"""The channel atlas: what each channel of a layer responds to, on one contact sheet.

``render_channels`` makes each channel's feature visualisation: gradient
ascent on the channel's mean activation from a grey start with a little
seeded noise, over a few octaves, with jitter and small random rotations and
scale changes at every step (so the pattern must survive them, which keeps
it from being pixel noise), and the Laplacian-pyramid gradient normalisation.
The objective's channel is a TensorFlow variable, so the gradient is traced
once for the whole layer, not once per channel. ``contact_sheet`` lays the
tiles out in a grid with the channel number under each.

Nothing here prints or saves; progress goes to a callback.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np

from dreamer.api import objective_gradient
from dreamer.config import ATLAS_CONFIG, DreamConfig
from dreamer.config import ATLAS_TILE_SIZE as TILE_SIZE
from dreamer.engine import Progress, ascend
from dreamer.objectives import Objective, activation_loss, check_channels, parse_channel_list

#: The amplitude of the start image's noise around mid-grey.
START_NOISE = 0.1


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


def start_image(size: int, seed: int) -> np.ndarray:
    """A size x size mid-grey image with seeded uniform noise of ``START_NOISE``."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(-START_NOISE, START_NOISE, size=(size, size, 3))
    return (0.5 + noise).astype(np.float32)


def render_channels(
    adapter,
    layer_name: str,
    channels: Sequence[int],
    config: DreamConfig = ATLAS_CONFIG,
    size: int = TILE_SIZE,
    progress: Callable[[int, Progress], None] | None = None,
) -> list[np.ndarray]:
    """Each channel's visualisation as a size x size float32 image in [0, 1].

    Channel ``c`` uses seed ``config.seed + c``, so a channel looks the same
    whichever others are rendered with it.

    Args:
        progress: called with (position in ``channels``, the engine's Progress).

    Raises:
        ModelError: an unknown layer or a channel out of range.
    """
    check_channels(adapter, layer_name, channels)
    objective = ChosenChannel(layer_name)
    gradient = objective_gradient(adapter, objective)
    tiles = []
    for position, c in enumerate(channels):
        objective.channel.assign(int(c))
        report = None if progress is None else (lambda event, p=position: progress(p, event))
        seeded = replace(config, seed=config.seed + int(c))
        tiles.append(ascend(start_image(size, seeded.seed), gradient, seeded, report))
    return tiles


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
        left, top, right, bottom = draw.textbbox((0, 0), label)
        draw.text((x + (tile_w - (right - left)) / 2, y + tile_h + (label_height - (bottom - top)) / 2 - top),
                  label, fill="black")
    return sheet
