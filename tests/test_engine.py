"""dreamer.engine on tiny seeded models: ascent, octaves, tiles, masks, smoothing, transforms, determinism."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dreamer.api import objective_gradient
from dreamer.engine import (
    DreamConfig,
    NumericalError,
    Progress,
    ascend,
    ascent_step,
    octave_shapes,
)
from dreamer.engine.tiles import choose_tile_size, tile_windows, tiled_gradient
from dreamer.errors import DreamerError
from dreamer.models import adapter_for_keras
from dreamer.objectives import combine, layer

#: Runs under every Keras backend in CI (``-m backends``).
pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
def adapter(tiny_model):
    return adapter_for_keras(tiny_model, "tiny", "unit")


@pytest.fixture(scope="module")
def gradient(adapter):
    return objective_gradient(adapter, layer("conv3"))


def test_ascent_steps_raise_the_objective(gradient, photo):
    config = DreamConfig(iterations=1, octaves=1, jitter=0, step_size=2.0)
    rng = np.random.default_rng(0)
    _, before = gradient(photo)
    image = photo
    for _ in range(5):
        image, _ = ascent_step(image, gradient, config, rng)
    _, after = gradient(image)
    assert after > before * 1.05


def test_step_moves_pixels_by_step_size_on_average(gradient, photo):
    config = DreamConfig(jitter=0, step_size=3.0)
    image = np.full_like(photo, 0.5)
    out, _ = ascent_step(image, gradient, config, np.random.default_rng(0))
    assert np.mean(np.abs(out - image)) * 255 == pytest.approx(3.0, rel=1e-3)


def test_result_stays_in_range(gradient, photo):
    out = ascend(photo, gradient, DreamConfig(iterations=3, octaves=2, step_size=50.0, seed=1))
    assert out.dtype == np.float32 and out.shape == photo.shape
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_same_seed_same_pixels(gradient, photo):
    config = DreamConfig(iterations=3, octaves=2, jitter=8, seed=7)
    a = ascend(photo, gradient, config)
    b = ascend(photo, gradient, config)
    c = ascend(photo, gradient, replace(config, seed=8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    "size, octaves, scale, min_size, expected, skipped",
    [
        ((100, 200), 3, 2.0, 8, [(25, 50), (50, 100), (100, 200)], 0),
        ((100, 200), 4, 1.4, 8, [(36, 73), (51, 102), (71, 143), (100, 200)], 0),
        ((40, 80), 3, 2.0, 16, [(20, 40), (40, 80)], 1),
        ((16, 16), 1, 1.5, 16, [(16, 16)], 0),
    ],
)
def test_octave_shapes(size, octaves, scale, min_size, expected, skipped):
    assert octave_shapes(*size, octaves, scale, min_size) == (expected, skipped)


def test_image_too_small_for_the_model_is_an_error():
    with pytest.raises(DreamerError, match="at least 32x32"):
        octave_shapes(20, 100, 4, 1.4, 32)


def test_skipped_octaves_are_reported(gradient):
    events: list[Progress] = []
    image = np.full((12, 12, 3), 0.5, np.float32)
    ascend(image, gradient, DreamConfig(iterations=1, octaves=3, octave_scale=2.0), events.append)
    notes = [e.message for e in events if e.message]
    assert notes and "skipped 2 octave" in notes[0]
    assert sum(1 for e in events if e.message is None) == 1


def test_progress_counts_every_step(gradient, photo):
    events: list[Progress] = []
    ascend(photo, gradient, DreamConfig(iterations=2, octaves=3), events.append)
    steps = [(e.octave, e.step) for e in events if e.message is None]
    assert steps == [(o, s) for o in range(3) for s in (1, 2)]
    assert events[-1].shape == photo.shape[:2]


@pytest.mark.parametrize(
    "length, tile, offset, size, windows",
    [
        (10, 16, 3, 10, [(0, 0, 10)]),
        (120, 40, 40, 40, [(40, 0, 40), (80, 0, 40), (0, 0, 40)]),  # the last window wraps to the start
        (100, 40, 0, 34, [(0, 0, 34), (34, 0, 33), (66, 1, 34)]),  # 2 px of overlap, 1 kept by each
        (100, 40, 95, 34, [(95, 0, 34), (29, 0, 33), (61, 1, 34)]),
    ],
)
def test_tile_windows(length, tile, offset, size, windows):
    assert tile_windows(length, tile, offset) == (size, windows)


@pytest.mark.parametrize("length", [17, 100, 511, 513, 1000, 2090, 4096])
@pytest.mark.parametrize("offset", [0, 7, 300])
def test_tile_windows_keep_every_pixel_once(length, offset):
    size, windows = tile_windows(length, 64, offset % length)
    kept = [(start + i) % length for start, keep_from, keep_to in windows for i in range(keep_from, keep_to)]
    assert sorted(kept) == list(range(length)) and size <= 64


def test_auto_tile_size():
    assert choose_tile_size((800, 1200), None) is None
    assert choose_tile_size((3000, 4000), None) == 512
    assert choose_tile_size((300, 400), 256) == 256
    assert choose_tile_size((300, 400), 512) is None


def test_tiled_and_untiled_gradients_agree_for_pointwise_model(pointwise_model, photo):
    gradient = objective_gradient(adapter_for_keras(pointwise_model, "pw", "unit"), layer("conv3"))
    whole, whole_loss = gradient(photo)
    tiled, tiled_loss = tiled_gradient(gradient, photo, 16, np.random.default_rng(3))
    np.testing.assert_allclose(tiled, whole, rtol=1e-4, atol=1e-9)
    assert tiled_loss == pytest.approx(whole_loss, rel=1e-4)


class _Offsets:
    """A stand-in random generator whose tile offsets are fixed."""

    def __init__(self, *values):
        self.values = list(values)

    def integers(self, _high):
        return self.values.pop(0)


def test_tiled_gradients_agree_away_from_seams(gradient, photo):
    whole, _ = gradient(photo)
    tiled, _ = tiled_gradient(gradient, photo, 32, _Offsets(0, 0))
    # 48x64 in 24x32 windows: seams at y=24 and x=32; a seam changes gradients up to ~8 px away
    inside = (slice(0, 16), slice(0, 22))
    np.testing.assert_allclose(tiled[inside], whole[inside], rtol=1e-4, atol=1e-9)
    assert not np.allclose(tiled[20:28], whole[20:28], rtol=1e-4, atol=1e-9)


def test_tiles_of_a_dream_have_one_shape_per_octave(adapter, photo):
    gradient = objective_gradient(adapter, layer("conv2"))
    shapes = []
    compiled = gradient._gradient

    def recording(image, weight, frame):
        shapes.append(tuple(image.shape[:2]))
        return compiled(image, weight, frame)

    gradient._gradient = recording
    ascend(photo, gradient, DreamConfig(iterations=4, octaves=2, octave_scale=1.5, tile_size=24, seed=3))
    assert set(shapes) == {(16, 22), (24, 22)}


def test_weighted_sum_of_layers(adapter, photo):
    objective = combine({"conv1": 1.0, "conv3": 0.5})
    gradient = objective_gradient(adapter, objective)
    _, total = gradient(photo)
    _, one = objective_gradient(adapter, layer("conv1"))(photo)
    _, three = objective_gradient(adapter, layer("conv3"))(photo)
    assert total == pytest.approx(one + 0.5 * three, rel=1e-5)


def test_nan_gradient_stops_with_a_clear_error(tiny_model, photo):
    adapter = adapter_for_keras(tiny_model, "nan", "unit")
    adapter.preprocess = lambda x: x * float("nan")
    with pytest.raises(NumericalError, match="NaN or Inf"):
        ascend(photo, objective_gradient(adapter, layer("conv3")), DreamConfig(iterations=1, octaves=1))


@pytest.mark.parametrize(
    "field, value",
    [("iterations", 0), ("iterations", -1), ("octaves", 0), ("octave_scale", 1.0),
     ("octave_scale", float("nan")), ("step_size", 0.0), ("step_size", float("inf")),
     ("jitter", -1), ("tile_size", 4)],
)
def test_bad_settings_are_refused(field, value):
    with pytest.raises(DreamerError):
        DreamConfig(**{field: value})


@pytest.mark.tensorflow_only
def test_new_sizes_do_not_retrace_the_compiled_step(adapter, photo):
    gradient = objective_gradient(adapter, layer("conv2"))
    ascend(photo, gradient, DreamConfig(iterations=1, octaves=3, tile_size=24))
    gradient(np.zeros((50, 70, 3), np.float32))
    assert gradient._gradient.experimental_get_tracing_count() == 1


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


def test_tensorflow_reason_is_the_line_that_says_what_went_wrong():
    pytest.importorskip("tensorflow")
    from dreamer.backend.tensorflow_impl import error_reason as tensorflow_reason

    message = ("Graph execution error:\n\nDetected at node tape/flatten/Reshape defined at (most recent call last):\n"
               '  File "x.py", line 7, in <module>\n\nInput to reshape is a tensor with 384 values, but the requested '
               "shape has 2400\n\t [[{{node tape/flatten/Reshape}}]] [Op:__inference_gradient_340]")
    wanted = "Input to reshape is a tensor with 384 values, but the requested shape has 2400"
    assert tensorflow_reason(message) == wanted
