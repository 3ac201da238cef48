"""Masks, gradient smoothing, the API's objective forms, the CLI's new options and the atlas."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import save_photo, tiny_classifier_model
from PIL import Image

from dreamer.api import objective_gradient
from dreamer.atlas import contact_sheet, render_channels, start_image
from dreamer.cli import main
from dreamer.engine import (
    DreamConfig,
    ascend,
    ascent_step,
)
from dreamer.engine.filters import laplacian_merge, laplacian_normalize, laplacian_split, tv_gradient
from dreamer.errors import DreamerError
from dreamer.images import read_metadata
from dreamer.models import adapter_for_keras
from dreamer.objectives import channel, layer, parse_objective


@pytest.fixture(scope="module")
def adapter(tiny_classifier):
    return adapter_for_keras(tiny_classifier, "tinyclf", "unit")


@pytest.fixture(scope="module")
def gradient(adapter):
    return objective_gradient(adapter, layer("conv3"))


# --- the mask -----------------------------------------------------------------------------------


def test_mask_keeps_the_outside_exactly_and_blends_grey(gradient, photo):
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[:, 32:] = 1.0
    mask[:, 28:32] = 0.5
    out = ascend(photo, gradient, DreamConfig(iterations=3, octaves=2, seed=1), mask=mask)
    free = ascend(photo, gradient, DreamConfig(iterations=3, octaves=2, seed=1))
    np.testing.assert_array_equal(out[:, :28], photo[:, :28])
    assert np.abs(out[:, 40:] - photo[:, 40:]).mean() > 0.01
    grey = np.abs(out[:, 28:32] - photo[:, 28:32]).mean()
    assert 0 < grey < np.abs(free[:, 28:32] - photo[:, 28:32]).mean()


def test_mask_of_another_size_is_an_error(gradient, photo):
    with pytest.raises(DreamerError, match="the mask is 10x10; the image is 64x48"):
        ascend(photo, gradient, DreamConfig(iterations=1, octaves=1), mask=np.ones((10, 10), np.float32))


def test_masked_step_moves_only_the_white_pixels(gradient, photo):
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[10:20, 10:20] = 1
    out, _ = ascent_step(photo, gradient, DreamConfig(jitter=0), np.random.default_rng(0), mask)
    changed = np.any(out != photo, axis=-1)
    assert changed[10:20, 10:20].any() and not changed[mask == 0].any()


# --- gradient smoothing -------------------------------------------------------------------------


def test_laplacian_pyramid_splits_and_merges_back():
    rng = np.random.default_rng(0)
    grad = rng.normal(size=(37, 50, 3)).astype(np.float32)
    pyramid = laplacian_split(grad, 4)
    assert [p.shape[:2] for p in pyramid] == [(5, 7), (10, 13), (19, 25), (37, 50)]
    np.testing.assert_allclose(laplacian_merge(pyramid), grad, atol=1e-5)


def test_laplacian_pyramid_of_a_constant_has_no_detail():
    pyramid = laplacian_split(np.full((8, 8, 1), 2.0, np.float32), 3)
    np.testing.assert_allclose(pyramid[0], 2.0, atol=1e-6)
    for detail in pyramid[1:]:
        np.testing.assert_allclose(detail, 0.0, atol=1e-6)


def test_laplacian_normalisation_lifts_the_coarse_scales():
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:64, 0:64]
    smooth = np.sin(x / 10.0)[..., None] * 0.1
    grad = (smooth + rng.normal(size=(64, 64, 1))).astype(np.float32)
    out = laplacian_normalize(grad, 4)
    coarse_before = np.corrcoef(grad.ravel(), smooth.ravel())[0, 1]
    coarse_after = np.corrcoef(out.ravel(), smooth.ravel())[0, 1]
    assert coarse_after > 2 * coarse_before
    one_level = laplacian_normalize(grad, 1)
    np.testing.assert_allclose(np.sqrt(np.mean(one_level**2)), 1.0, rtol=1e-5)


def test_tv_gradient_on_a_step_edge():
    detail = np.zeros((3, 4, 1), np.float32)
    detail[:, 2:] = 1.0
    grad = tv_gradient(detail)
    # raising the left side of the edge or lowering the right side reduces the variation
    assert (grad[:, 1] < -0.9).all() and (grad[:, 2] > 0.9).all()
    np.testing.assert_allclose(grad[:, [0, 3]], 0.0, atol=1e-6)
    np.testing.assert_array_equal(tv_gradient(np.full((4, 4, 3), 0.3, np.float32)), 0.0)


def test_tv_makes_the_dream_smoother(gradient, photo):
    def roughness(image):
        detail = image - photo
        return np.abs(np.diff(detail, axis=0)).mean() + np.abs(np.diff(detail, axis=1)).mean()

    plain = ascend(photo, gradient, DreamConfig(iterations=8, octaves=1, seed=2))
    smoothed = ascend(photo, gradient, DreamConfig(iterations=8, octaves=1, seed=2, tv=1.0))
    assert roughness(smoothed) < 0.8 * roughness(plain)


def test_rotation_and_scale_jitter_still_raise_the_objective(gradient, photo):
    config = DreamConfig(jitter=2, rotate=10.0, scale_jitter=0.1, step_size=2.0, laplacian_levels=3)
    rng = np.random.default_rng(0)
    _, before = gradient(photo)
    image = photo
    for _ in range(4):
        image, _ = ascent_step(image, gradient, config, rng)
    assert image.shape == photo.shape and gradient(image)[1] > before * 1.05


@pytest.mark.parametrize(
    "field, value",
    [("laplacian_levels", -1), ("laplacian_levels", 13), ("tv", -0.1), ("tv", float("nan")),
     ("rotate", -1.0), ("rotate", 181.0), ("scale_jitter", 1.0), ("scale_jitter", -0.1)],
)
def test_bad_smoothing_settings_are_refused(field, value):
    with pytest.raises(DreamerError):
        DreamConfig(**{field: value})


# --- the API ------------------------------------------------------------------------------------


def test_api_takes_objective_text_and_values(tiny_classifier, photo):
    import dreamer

    image = (photo * 255).astype(np.uint8)
    settings = dict(model=tiny_classifier, iterations=2, octaves=1, seed=3)
    from_text = dreamer.dream(image, layers="conv3:1 + 0.5*conv2 - 0.2*conv1:0@center", **settings)
    from_value = dreamer.dream(image, layers=parse_objective("conv3:1 + 0.5*conv2 - 0.2*conv1:0@center"),
                               **settings)
    assert from_text.info["dreamer"]["objective"] == "conv3:1+conv2=0.5+conv1:0@center=-0.2"
    np.testing.assert_array_equal(np.asarray(from_text), np.asarray(from_value))
    assert not np.array_equal(np.asarray(from_text), image)


def test_api_classes_guide_and_mask(tiny_classifier, photo):
    import dreamer

    image = (photo * 255).astype(np.uint8)
    mask = np.zeros(photo.shape[:2], np.uint8)
    mask[:, :20] = 255
    result = dreamer.dream(image, model=tiny_classifier, classes=[3], mask=mask, iterations=2, octaves=1, seed=1)
    assert result.info["dreamer"]["objective"] == "class(3)"
    np.testing.assert_array_equal(np.asarray(result)[:, 20:], image[:, 20:])
    guided = dreamer.dream(image, model=tiny_classifier, layers="conv2", guide=np.flipud(image),
                           iterations=2, octaves=1, seed=1)
    assert guided.info["dreamer"]["objective"] == "guide(conv2)"


def test_api_string_objectives_are_cached(tmp_path, photo):
    import dreamer
    from dreamer.api import _cached_dreamer

    path = tmp_path / "clf.keras"
    tiny_classifier_model().save(path)
    image = (photo * 255).astype(np.uint8)
    _cached_dreamer.cache_clear()
    for _ in range(2):
        dreamer.dream(image, model=str(path), layers="conv3:2 + class(1)", iterations=1, octaves=1, seed=0)
    assert _cached_dreamer.cache_info().hits == 1


# --- the CLI ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "clf.keras"
    tiny_classifier_model().save(path)
    return path


def dream_args(model, *args):
    return ["--model", str(model), "-i", "2", "--octaves", "1", "--seed", "5", "-q", *args]


@pytest.mark.parametrize(
    "args, objective",
    [
        (["-l", "conv3:1,2"], "conv3:1-2"),
        (["-l", "conv3:4@center"], "conv3:4@center"),
        (["-l", "conv3 + 0.5*conv2:3 - 0.3*conv1"], "conv3+conv2:3=0.5+conv1=-0.3"),
        (["-l", "conv3=1", "-l", "conv2=0.5"], "conv3+conv2=0.5"),
        (["--class", "7"], "class(7)"),
        (["-l", "conv2", "--class", "7", "--loss", "mean"], "conv2[mean]+class(7)"),
        (["-l", "conv3", "--laplacian", "4", "--tv", "0.2"], "conv3"),
    ],
)
def test_cli_objective_forms(runner, classifier_file, tmp_path, args, objective):
    save_photo(tmp_path / "in.png")
    result = runner.invoke(main, dream_args(classifier_file, *args, "in.png", "-o", "out.png"))
    assert result.exit_code == 0, result.output
    meta = read_metadata(tmp_path / "out.png")
    assert meta["objective"] == objective


@pytest.mark.parametrize(
    "args, message",
    [
        (["-l", "conv3 +"], "bad objective 'conv3 +': expected a layer name or class(...) at position 8"),
        (["-l", "conv3:99"], "channel 99 is out of range: conv3 has 16 channels (0-15)"),
        (["--class", "tabby"], "has no class names; give a class index"),
        (["--class", "12"], "class 12 is out of range"),
        (["-l", "conv3:1", "--guide", "in.png"], "--guide works with whole layers; conv3:1 is not one"),
        (["--mask", "missing.png"], "does not exist"),
        (["--tv", "-1"], "is not a number at least 0"),
        (["--laplacian", "20"], "20 is not in the range 0<=x<=12"),
    ],
)
def test_cli_objective_errors_exit_2_in_one_line(runner, classifier_file, tmp_path, args, message):
    save_photo(tmp_path / "in.png")
    result = runner.invoke(main, dream_args(classifier_file, *args, "in.png"))
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").iterdir())


def test_cli_mask_leaves_the_outside_equal_to_the_converted_input(runner, classifier_file, tmp_path):
    save_photo(tmp_path / "in.png", size=(64, 48))
    Image.fromarray(np.asarray(Image.open(tmp_path / "in.png").convert("L"))).save(tmp_path / "gray.png")
    mask = np.zeros((24, 32), np.uint8)  # half the size: stretched to the image
    mask[:, 16:] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    for source in ("in.png", "gray.png"):
        result = runner.invoke(main, dream_args(classifier_file, "--mask", "mask.png", source, "-o", f"o_{source}"))
        assert result.exit_code == 0, result.output
        converted = np.asarray(Image.open(tmp_path / source).convert("RGB"))
        out = np.asarray(Image.open(tmp_path / f"o_{source}"))
        np.testing.assert_array_equal(out[:, :30], converted[:, :30])
        assert (out[:, 34:] != converted[:, 34:]).any()


def test_cli_guide(runner, classifier_file, tmp_path):
    save_photo(tmp_path / "in.png")
    save_photo(tmp_path / "guide.png", size=(40, 40))
    result = runner.invoke(main, dream_args(classifier_file, "-l", "conv2", "--guide", "guide.png", "in.png"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "outputs" / "in_clf_guide-conv2.png").exists()


def test_help_shows_the_objective_forms(runner):
    result = runner.invoke(main, ["--help"])
    for text in ("block5c_add:97@center", "class(tabby)", "0.5*block4c_add:12", "--class", "--guide", "--mask",
                 "--laplacian", "--tv", "dream atlas"):
        assert text in result.output, text


# --- the atlas ----------------------------------------------------------------------------------


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


@pytest.mark.real_model
def test_real_model_class_logit_rises_and_names_resolve(tmp_path_factory):
    from dreamer.models import load_model
    from dreamer.objectives import bind, class_logit

    real = load_model("efficientnet-lite0", tmp_path_factory.mktemp("cache"))
    tabby = bind(class_logit("Tabby"), real)
    assert (tabby.index, tabby.layer, tabby.label) == (281, "predictions", "tabby")
    with pytest.raises(DreamerError, match="unknown class 'tabby cat'.*closest: tabby"):
        bind(class_logit("tabby cat"), real)
    objective = bind(parse_objective("class(tabby) + 0.5*block5c_add:97 - 0.3*block3b_add"), real)
    gradient = objective_gradient(real, objective)
    image = np.full((64, 64, 3), 0.5, np.float32)
    _, before = gradient(image)
    rng = np.random.default_rng(0)
    for _ in range(3):
        image, _ = ascent_step(image, gradient, DreamConfig(jitter=4), rng)
    assert gradient(image)[1] > before + 1.0
