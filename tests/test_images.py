"""dreamer.images: conversion, resizing, masks and loading, on tiny exact arrays."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dreamer.errors import ImageError
from dreamer.images import (
    LoadedImage,
    array_to_loaded,
    fit_within,
    image_size,
    load_image,
    mask_weights,
    pil_to_loaded,
    resize,
    to_pil,
)


def test_uint8_array_becomes_unit_floats_and_back():
    array = np.array([[[0, 128, 255], [255, 0, 64]]], np.uint8)
    loaded = array_to_loaded(array)
    assert loaded.rgb.dtype == np.float32 and loaded.alpha is None
    np.testing.assert_allclose(loaded.rgb[0, 0], [0.0, 128 / 255, 1.0])
    np.testing.assert_array_equal(np.asarray(to_pil(loaded.rgb)), array)


def test_alpha_is_kept_apart():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 3] = [[0, 255], [255, 0]]
    loaded = pil_to_loaded(Image.fromarray(rgba, "RGBA"))
    np.testing.assert_array_equal(loaded.alpha, [[0.0, 1.0], [1.0, 0.0]])
    assert to_pil(loaded.rgb, loaded.alpha).mode == "RGBA"


@pytest.mark.parametrize("shape", [(3, 3, 2), (2, 2, 5)])
def test_array_of_the_wrong_shape_is_refused(shape):
    with pytest.raises(ImageError, match="HxWx3"):
        array_to_loaded(np.zeros(shape, np.uint8))


def test_resize_keeps_a_constant_and_clips_only_images():
    constant = np.full((4, 4, 3), 0.25, np.float32)
    np.testing.assert_allclose(resize(constant, (2, 2)), 0.25, atol=1e-6)
    signed = np.full((4, 4, 1), -0.5, np.float32)
    assert resize(signed, (8, 8), clip=False).min() < 0 and resize(signed, (8, 8)).min() == 0.0


def test_fit_within_downscales_the_long_side_only():
    image = LoadedImage(np.zeros((40, 80, 3), np.float32), None)
    assert fit_within(image, 20).rgb.shape == (10, 20, 3)
    assert fit_within(image, 100) is image


def test_mask_weights_are_luminance_stretched_to_the_shape():
    mask = LoadedImage(np.stack([np.zeros((2, 2)), np.ones((2, 2)), np.ones((2, 2))], -1).astype(np.float32), None)
    weights = mask_weights(mask, (4, 4))
    assert weights.shape == (4, 4)
    np.testing.assert_allclose(weights, 0.587 + 0.114, atol=1e-5)


def test_loading_leaves_pillows_pixel_limit_as_it_was(tmp_path):
    Image.new("RGB", (4, 3), "red").save(tmp_path / "a.png")
    before = Image.MAX_IMAGE_PIXELS
    assert load_image(tmp_path / "a.png").rgb.shape == (3, 4, 3)
    assert Image.MAX_IMAGE_PIXELS == before
    assert image_size(tmp_path / "a.png") == (4, 3)  # the header read before TensorFlow loads, too
    assert Image.MAX_IMAGE_PIXELS == before


@pytest.mark.parametrize("name", ["r.png", "r.jpg"])
def test_png_and_jpeg_results_carry_their_settings(tmp_path, name):
    from dreamer.images import read_metadata, save_image

    settings = {"dreamer_version": "0.1.0", "seed": 3, "recipe": {"layers": ["a"]}}
    path = save_image(to_pil(np.full((8, 8, 3), 0.5, np.float32)), tmp_path / name, settings)
    assert read_metadata(path) == settings


def test_another_programs_jpeg_comment_is_not_settings(tmp_path):
    from dreamer.images import read_metadata

    for comment in (b"made with a camera", b'{"not": "ours"}'):
        Image.new("RGB", (8, 8)).save(tmp_path / "c.jpg", comment=comment)
        assert read_metadata(tmp_path / "c.jpg") is None
