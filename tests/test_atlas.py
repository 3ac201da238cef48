"""dreamer.atlas and 'dream atlas': channel visualisations and the contact sheet."""

from __future__ import annotations

import numpy as np
import pytest

from dreamer.api import objective_gradient
from dreamer.atlas import contact_sheet, render_channels, start_image
from dreamer.cli import main
from dreamer.engine import (
    DreamConfig,
)
from dreamer.images import read_metadata
from dreamer.models import adapter_for_keras
from dreamer.objectives import channel


@pytest.fixture(scope="module")
def adapter(tiny_classifier):
    return adapter_for_keras(tiny_classifier, "tinyclf", "unit")


@pytest.mark.backends
def test_atlas_tiles_raise_their_channel_and_differ(adapter):
    config = DreamConfig(iterations=4, octaves=2, octave_scale=1.5, jitter=2, laplacian_levels=3,
                         rotate=5.0, scale_jitter=0.05)
    tiles = render_channels(adapter, "conv3", [1, 2], config, size=32)
    assert [t.shape for t in tiles] == [(32, 32, 3)] * 2
    for c, tile in zip([1, 2], tiles):
        value = objective_gradient(adapter, channel("conv3", c))
        assert value(tile)[1] > value(start_image(32, c))[1]
    assert np.abs(tiles[0] - tiles[1]).mean() > 0.01
    again = render_channels(adapter, "conv3", [2], config, size=32)
    np.testing.assert_array_equal(again[0], tiles[1])


def test_contact_sheet_layout_and_labels():
    tiles = [np.full((20, 30, 3), v, np.float32) for v in (0.2, 0.4, 0.6)]
    sheet = contact_sheet(tiles, ["0", "1", "97"], columns=2, gap=4, label_height=14)
    assert sheet.size == (2 * 34 + 4, 2 * 38 + 4)
    pixels = np.asarray(sheet)
    assert pixels[4 + 10, 4 + 10].tolist() == [51, 51, 51] and pixels[42 + 10, 4 + 10].tolist() == [153] * 3
    label_strip = pixels[42 + 20:42 + 34, 4:34]
    assert (label_strip < 128).any()  # the channel number is drawn under the tile
    assert (pixels[42:80, 38:72] == 255).all()  # the empty fourth cell stays white


@pytest.mark.backends
def test_cli_atlas(runner, classifier_file, tmp_path):
    args = ["atlas", "--model", str(classifier_file), "--layer", "conv3", "--channels", "0-3", "--size", "32",
            "-i", "2", "--octaves", "1"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    written = tmp_path / "outputs" / "atlas_clf_conv3_0-3.png"
    assert written.exists() and "wrote" in result.output and "atlas conv3" in result.output
    assert read_metadata(written)["channels"] == "0-3"
    again = runner.invoke(main, [*args, "-q"])
    assert again.exit_code == 0 and again.output == ""
    assert (tmp_path / "outputs" / "atlas_clf_conv3_0-3_1.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--layer", "conv3", "--channels", "3-x"], "bad channel list '3-x'"),
        (["--layer", "conv3", "--channels", "10-20"], "channel 16 is out of range"),
        (["--layer", "conv9"], "unknown layer 'conv9'"),
        (["--layer", "conv3", "-o", "sheet.xyz"], "cannot write '.xyz'"),
    ],
)
def test_cli_atlas_errors(runner, classifier_file, args, message):
    result = runner.invoke(main, ["atlas", "--model", str(classifier_file), *args])
    assert result.exit_code == 2 and message in result.output, result.output
