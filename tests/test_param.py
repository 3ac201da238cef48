"""The Fourier parameterisation, its colour and moves, diversity, class sheets, rendering from noise,
and the neuron objective under tiling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tiny_models import tiny_classifier_model, tiny_conv_model

from dreamer.api import objective_gradient
from dreamer.atlas import AtlasPlan, render_plan
from dreamer.cli import main
from dreamer.config import DreamConfig
from dreamer.engine.tiles import tiled_gradient
from dreamer.engine.transforms import apply_moves, draw_moves
from dreamer.images import read_metadata
from dreamer.models import adapter_for_keras
from dreamer.objectives import channel, neuron
from dreamer.param.colour import COLOUR_SQRT, SAMPLE_PHOTOS, colour_covariance, colour_sqrt, decorrelation_matrix
from dreamer.param.fourier import fourier_image, frequency_scale, initial_spectrum
from dreamer.param.render import ObjectiveScores, UnitScores, diversity_penalty, fourier_renderer
from dreamer.param.settings import FourierConfig, Moves

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
FAST = FourierConfig(steps=12, learning_rate=0.1, moves=Moves(pad=4, jitter=2, scale=0.05, rotate=5.0))
PIXELS = DreamConfig(iterations=6, octaves=2, octave_scale=1.5, jitter=2, laplacian_levels=3, rotate=5.0,
                     scale_jitter=0.05)


@pytest.fixture(scope="module")
def adapter():
    return adapter_for_keras(tiny_classifier_model(), "tinyclf", "unit")


@pytest.fixture(scope="module")
def coins_file(tmp_path_factory):
    """A two-class classifier saved as a user would hand it over (left- vs right-facing coins, say)."""
    path = tmp_path_factory.mktemp("models") / "coins.keras"
    tiny_classifier_model(classes=2).save(path)
    return path


def mean_channel(adapter, tile, c):
    return objective_gradient(adapter, channel("conv3", c))(tile)[1]


# --- colour, spectrum, moves ----------------------------------------------------------------------------


def test_colour_sqrt_is_a_square_root_with_components_in_order():
    covariance = np.array([[4.0, 2.0, 1.0], [2.0, 3.0, 0.5], [1.0, 0.5, 2.0]])
    root = colour_sqrt(covariance)
    np.testing.assert_allclose(root @ root.T, covariance, atol=1e-12)
    norms = np.linalg.norm(root, axis=0)
    assert list(norms) == sorted(norms, reverse=True) and (root.sum(axis=0) > 0).all()
    assert np.max(np.linalg.norm(decorrelation_matrix(root), axis=0)) == pytest.approx(1.0)


def test_colour_sqrt_constant_is_computed_from_the_sample_photos():
    photos = [np.asarray(Image.open(SAMPLES / name).convert("RGB"), np.float32) / 255 for name in SAMPLE_PHOTOS]
    np.testing.assert_allclose(colour_sqrt(colour_covariance(photos)), COLOUR_SQRT, atol=6e-5)


def test_frequency_scale_falls_as_one_over_frequency():
    scale = frequency_scale(8, 8)
    assert scale.shape == (8, 5)
    assert scale[0, 0] == scale[0, 1] == pytest.approx(8 * 8)  # DC clamped to the lowest frequency
    assert scale[0, 4] == pytest.approx(8 * 2)  # f = 1/2: 1/f = 2, times sqrt(64)
    assert frequency_scale(8, 8, decay_power=0.0).max() == pytest.approx(8)


@pytest.mark.parametrize("size", [(32, 32), (33, 47), (17, 64), (1, 1)])
def test_fourier_image_is_a_valid_image_of_the_asked_size(size):
    spectrum = initial_spectrum(2, *size, np.random.default_rng(0), sd=0.5)
    images = fourier_image(spectrum, size)
    assert images.shape == (2, *size, 3) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0


def test_fourier_image_of_a_zero_spectrum_is_mid_grey():
    np.testing.assert_allclose(fourier_image(np.zeros((1, 3, 6, 4, 2), np.float32), (6, 6)), 0.5)


def test_moves_identity_and_padding():
    image = np.random.default_rng(0).random((1, 6, 8, 3)).astype(np.float32)
    identity = np.array([[0.0, 1.0, 0.0, 0.0]], np.float32)
    np.testing.assert_allclose(apply_moves(image, identity, 0), image, atol=1e-6)
    padded = np.asarray(apply_moves(image, identity, 2))
    assert padded.shape == (1, 10, 12, 3)
    np.testing.assert_allclose(padded[:, 2:-2, 2:-2], image, atol=1e-6)
    assert (padded[:, :2] == 0.5).all() and (padded[:, :, -2:] == 0.5).all()
    shifted = np.asarray(apply_moves(image, np.array([[0.0, 1.0, 1.0, 0.0]], np.float32), 0))
    np.testing.assert_allclose(shifted[:, :-1], image[:, 1:], atol=1e-6)


def test_draw_moves_stays_in_range_and_follows_each_generator():
    moves = Moves(pad=3, jitter=2, scale=0.1, rotate=10.0)
    draws = draw_moves(moves, [np.random.default_rng(s) for s in range(50)])
    assert draws.shape == (50, 4)
    assert np.abs(draws[:, 0]).max() <= np.radians(10) and (1 / 1.1 - 1e-6 <= draws[:, 1]).all()
    assert (draws[:, 1] <= 1.1 + 1e-6).all() and np.abs(draws[:, 2:]).max() <= 2
    again = draw_moves(moves, [np.random.default_rng(s) for s in (7, 3)])
    np.testing.assert_array_equal(again, draws[[7, 3]])


# --- rendering --------------------------------------------------------------------------------------------


def test_each_parameterisation_raises_its_channels_activation(adapter):
    grey_start = fourier_image(initial_spectrum(1, 32, 32, np.random.default_rng(0)), (32, 32))[0]
    for param in ("fft", "pixels"):
        plan = AtlasPlan("conv3", (1, 2), ("1", "2"), param)
        tiles = render_plan(adapter, plan, PIXELS, FAST, size=32)
        assert [t.shape for t in tiles] == [(32, 32, 3)] * 2
        for c, tile in zip((1, 2), tiles):
            assert mean_channel(adapter, tile, c) > 1.1 * mean_channel(adapter, grey_start, c), (param, c)


def test_fourier_tiles_are_valid_at_odd_sizes_and_do_not_depend_on_the_batch(adapter):
    renderer = fourier_renderer(adapter, UnitScores("conv3"))
    images = renderer.render((33, 47), [1, 2], 1, FAST)
    assert images.shape == (2, 33, 47, 3) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    alone = renderer.render((33, 47), [2], 1, FAST)
    np.testing.assert_allclose(alone[0], images[1], atol=2e-3)


def test_diversity_makes_variants_differ(adapter):
    plain = fourier_renderer(adapter, UnitScores("conv3"), "conv2")
    config = FourierConfig(steps=20, learning_rate=0.1, moves=FAST.moves)
    same = plain.render((32, 32), [1], 3, FourierConfig(**{**config.__dict__, "diversity": 0.0}))
    diverse = plain.render((32, 32), [1], 3, FourierConfig(**{**config.__dict__, "diversity": 50.0}))
    features = adapter.feature_model(["conv2"])

    def similarity(images):
        return float(diversity_penalty(features(adapter.preprocess(images))["conv2"], 3))

    assert similarity(diverse) < similarity(same)
    for i in range(3):
        for j in range(i):
            assert np.abs(diverse[i] - diverse[j]).mean() > 0.02


def test_diversity_penalty_counts_pairs_within_groups():
    act = np.ones((4, 2, 2, 3), np.float32)
    assert float(diversity_penalty(act, 2)) == pytest.approx(2.0)  # 2 groups x (2 pairs / 2)
    assert float(diversity_penalty(act, 1)) == 0.0


def test_unit_scores_read_classes_and_objective_scores_any_objective(adapter):
    import tensorflow as tf

    logits = tf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert UnitScores("p")({"p": logits}, tf.constant([2, 0])).numpy().tolist() == [3.0, 4.0]
    act = tf.constant(np.arange(16, dtype=np.float32).reshape(2, 2, 2, 2))
    scores = ObjectiveScores(channel("x", 1))({"x": act}, tf.constant([0, 0]))
    np.testing.assert_allclose(scores.numpy(), [4.0, 12.0])


def test_class_tiles_raise_their_logit(adapter):
    from dataclasses import replace

    from dreamer.atlas import class_units

    adapter = replace(adapter, labels=[f"class{i}" for i in range(10)])
    layer, indices, labels = class_units(adapter, ["class3", "7"])
    assert (layer, indices, labels) == ("predictions", [3, 7], ["class3", "class7"])
    tiles = render_plan(adapter, AtlasPlan(layer, (3,), ("class3",), "fft", 1, "conv3"), fourier_config=FAST,
                        size=32)
    logits = adapter.model(adapter.preprocess(np.stack([tiles[0], np.full((32, 32, 3), 0.5, np.float32)])))
    assert float(logits[0, 3]) > float(logits[1, 3])


def test_api_renders_from_noise_with_both_parameterisations(model_file):
    from dreamer.api import Dreamer

    dreamer = Dreamer(str(model_file), "conv3:1", preprocess="unit")
    fft = dreamer.render((24, 40), "fft", FAST, variants=2)
    pixels = dreamer.render(32, "pixels", DreamConfig(iterations=2, octaves=1, seed=3))
    assert [im.size for im in fft] == [(40, 24)] * 2 and pixels[0].size == (32, 32)
    assert fft[0].info["dreamer"]["param"] == "fft" and pixels[0].info["dreamer"]["seed"] == 3


# --- the neuron under tiling --------------------------------------------------------------------------------


def test_neuron_means_the_centre_of_the_whole_image_whatever_the_tiling():
    pointwise = adapter_for_keras(tiny_conv_model(kernel=1, name="pw", stride=1), "pw", "unit")
    gradient = objective_gradient(pointwise, neuron("conv3", 2))
    image = np.random.default_rng(0).random((64, 80, 3)).astype(np.float32)
    whole_grad, whole = gradient(image)
    assert whole > 0 and np.argwhere(np.abs(whole_grad).sum(-1) > 0).tolist() == [[32, 40]]
    for seed in range(3):
        tiled_grad, tiled = tiled_gradient(gradient, image, 16, np.random.default_rng(seed))
        assert tiled == pytest.approx(whole, rel=1e-5)
        np.testing.assert_allclose(tiled_grad, whole_grad, rtol=1e-5, atol=1e-7)


# --- the CLI ------------------------------------------------------------------------------------------------


def test_cli_class_sheet_of_a_users_classifier_with_labels(runner, coins_file, tmp_path):
    (tmp_path / "coins.txt").write_text("left\nright\n")
    args = ["atlas", "--model", str(coins_file), "--labels", "coins.txt", "--class", "left", "--class", "right",
            "--size", "32", "-i", "3", "--variants", "2"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    written = tmp_path / "outputs" / "atlas_coins_class_left+right.png"
    assert written.exists() and "2 classes" in result.output
    metadata = read_metadata(written)
    assert metadata["labels"] == ["left", "right"] and metadata["param"] == "fft" and metadata["variants"] == 2
    assert Image.open(written).size == (2 * 36 + 4, 2 * 50 + 4)  # a row of 2 variants per class


@pytest.mark.parametrize(
    "args, message",
    [
        (["--class", "middle"], "unknown class 'middle'"),
        (["--class", "left", "--channels", "0-3"], "--class and --channels can't be combined"),
        (["--class", "left", "--layer", "conv9"], "unknown layer 'conv9'"),
        (["--class", "5"], "class 5 is out of range"),
    ],
)
def test_cli_class_sheet_errors(runner, coins_file, tmp_path, args, message):
    (tmp_path / "coins.txt").write_text("left\nright\n")
    result = runner.invoke(main, ["atlas", "--model", str(coins_file), "--labels", "coins.txt", *args])
    assert result.exit_code == 2 and message in result.output, result.output


def test_cli_class_sheet_of_a_fixed_size_head_is_a_usage_error(runner, tmp_path):
    """A user's classifier with a Flatten/Dense head works on its own input size only: one clear line, no image."""
    import keras

    inputs = keras.Input((16, 16, 3))
    features = keras.layers.Conv2D(4, 3, strides=2, activation="relu", name="conv")(inputs)
    logits = keras.layers.Dense(2, name="logits")(keras.layers.Flatten()(features))
    keras.Model(inputs, logits).save(tmp_path / "flat.keras")
    (tmp_path / "coins.txt").write_text("left\nright\n")
    for param in ("fft", "pixels"):
        result = runner.invoke(main, ["atlas", "--model", "flat.keras", "--labels", "coins.txt", "--class", "left",
                                      "--size", "32", "-i", "2", "--param", param])
        assert result.exit_code == 2, result.output
        assert "class output 'logits' of model" in result.output and "needs its own input size" in result.output
        assert "Traceback" not in result.output and not (tmp_path / "outputs").exists()
    for objective in (["--class", "1"], ["--layer", "0.5*conv:1 + class(0)"]):  # dream from noise
        result = runner.invoke(main, ["--model", "flat.keras", *objective, "--param", "fft", "--size", "32", "-i", "2"])
        assert result.exit_code == 2 and "needs its own input size" in result.output, result.output
        assert not any((tmp_path / "outputs").glob("*"))


def test_cli_class_sheet_of_a_model_without_classes_is_a_usage_error(runner, model_file):
    result = runner.invoke(main, ["atlas", "--model", str(model_file), "--class", "3"])
    assert result.exit_code == 2 and "has no class output" in result.output, result.output


def test_cli_atlas_variants_and_pixels(runner, model_file, tmp_path):
    base = ["atlas", "--model", str(model_file), "--layer", "conv3", "--channels", "0-1", "--size", "32", "-i", "2"]
    result = runner.invoke(main, [*base, "--variants", "3", "--param", "pixels", "--octaves", "1"])
    assert result.exit_code == 0, result.output
    sheet = Image.open(tmp_path / "outputs" / "atlas_tiny_conv3_0-1.png")
    assert sheet.size == (3 * 36 + 4, 2 * 50 + 4)
    tiles = np.asarray(sheet)[4:36, :]
    assert np.abs(tiles[:, 4:36].astype(float) - tiles[:, 40:72]).mean() > 1  # variants differ


@pytest.mark.parametrize("param, objective", [("fft", ["--layer", "conv3:1"]), ("pixels", ["--layer", "conv3:1"]),
                                              ("fft", ["--class", "3", "--variants", "2"])])
def test_cli_renders_from_noise(runner, classifier_file, tmp_path, param, objective):
    result = runner.invoke(main, ["--model", str(classifier_file), *objective, "--param", param, "--size", "40",
                                  "-i", "2", "--octaves", "1", "--seed", "4", "-o", "noise.png"])
    assert result.exit_code == 0, result.output
    variants = 2 if "--variants" in objective else 1
    expected = (40, 40) if variants == 1 else (2 * 44 + 4, 40 + 14 + 8)  # the variants side by side, labelled
    assert Image.open(tmp_path / "noise.png").size == expected
    assert read_metadata(tmp_path / "noise.png")["seed"] == 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["photo.png", "--param", "fft"], "not both"),
        ([], "not both"),
    ],
)
def test_cli_noise_usage_errors(runner, model_file, args, message):
    result = runner.invoke(main, ["--model", str(model_file), *args])
    assert result.exit_code == 2 and message in result.output, result.output


def test_fourier_settings_are_public_from_the_package_and_checked_by_the_settings_rule():
    import dreamer
    from dreamer.errors import DreamerError

    assert dreamer.FourierConfig is FourierConfig
    with pytest.raises(DreamerError, match=r"steps must be a whole number from 1 to 10000 \(not 0\)"):
        FourierConfig(steps=0)
    with pytest.raises(DreamerError, match="rotate must be a number at least 0 and at most 180"):
        Moves(rotate=200.0)
