"""dreamer.engine.filters: the Laplacian pyramid and total variation, on small exact arrays."""

from __future__ import annotations

import numpy as np

from dreamer.engine.filters import laplacian_merge, laplacian_normalize, laplacian_split, tv_gradient


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
