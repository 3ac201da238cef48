"""dreamer.engine.arrays: memory-bounded array helpers, against numpy."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("shift", [(0, 0), (1, 2), (-1, 3), (5, -7), (-4, -4)])
def test_roll_into_is_np_roll(shift):
    from dreamer.engine.arrays import roll_into

    array = np.arange(4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3)
    out = np.empty_like(array)
    assert roll_into(out, array, shift) is out
    np.testing.assert_array_equal(out, np.roll(array, shift, axis=(0, 1)))


def test_mean_abs_in_bands():
    from dreamer.engine.arrays import mean_abs

    array = np.array([[[1.0, -2.0]], [[3.0, -4.0]], [[0.0, 10.0]]], np.float32)
    assert mean_abs(array, rows=2) == pytest.approx(20.0 / 6)
    array[1, 0, 1] = np.nan
    assert np.isnan(mean_abs(array, rows=2))
