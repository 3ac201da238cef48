"""dreamer.api: dream() and Dreamer on tiny models (objective forms, classes, guides, masks, precision, caching)."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_models import tiny_classifier_model

from dreamer.engine import (
    DreamConfig,
)
from dreamer.errors import DreamerError
from dreamer.objectives import parse_objective


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


def test_api_takes_a_precision_and_records_it(tiny_model, photo, bfloat16_kernels):
    from dreamer.api import Dreamer, dream

    dreamer = Dreamer(tiny_model, "conv3", preprocess="unit", precision="bfloat16")
    result = dreamer.dream((photo * 255).astype(np.uint8), DreamConfig(iterations=1, octaves=1, seed=1))
    assert result.info["dreamer"]["precision"] == "bfloat16"
    with pytest.raises(DreamerError, match="unknown precision"):
        dream(photo, model=tiny_model, precision="fp8")


def test_a_machine_without_bfloat16_kernels_gets_a_one_line_error(tiny_model, photo, monkeypatch):
    from dreamer import backend
    from dreamer.api import Dreamer

    class NoKernel(Exception):
        pass

    def missing(*_args):
        raise NoKernel("Operation received an exception:Status: 3, message: could not create a primitive")

    monkeypatch.setattr(backend, "kernel_errors", lambda: (NoKernel,))
    dreamer = Dreamer(tiny_model, "conv3", preprocess="unit", precision="bfloat16")
    dreamer.gradient._gradient = missing
    with pytest.raises(DreamerError, match="cannot run the network in bfloat16 .*could not create a primitive.*"
                                            "use --precision float32 or auto"):
        dreamer.dream((photo * 255).astype(np.uint8), DreamConfig(iterations=1, octaves=1, seed=1))
