"""dream() on the same keras.Model object reuses its compiled gradient, and lets the model go."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
from tiny_models import tiny_conv_model

import dreamer.api
from dreamer.api import dream
from dreamer.engine import ObjectiveGradient
from dreamer.models.model_cache import PER_MODEL, kept_for_model


@pytest.fixture
def built(monkeypatch) -> list[ObjectiveGradient]:
    """Every ObjectiveGradient the API builds, in order."""
    made: list[ObjectiveGradient] = []

    class Counting(ObjectiveGradient):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(dreamer.api, "ObjectiveGradient", Counting)
    return made


SETTINGS = {"layers": "conv3", "iterations": 1, "octaves": 2, "seed": 0, "precision": "float32"}


def test_second_dream_on_the_same_model_builds_no_new_gradient(built, photo):
    model = tiny_conv_model(seed=3)
    first = np.asarray(dream(photo, model=model, **SETTINGS))
    second = np.asarray(dream(photo, model=model, **SETTINGS))
    assert len(built) == 1
    assert built[0]._gradient.experimental_get_tracing_count() == 1
    np.testing.assert_array_equal(first, second)
    dream(photo, model=model, **{**SETTINGS, "layers": "conv2"})  # other layers: another gradient
    assert len(built) == 2


def test_changed_weights_build_a_new_gradient(built, photo):
    model = tiny_conv_model(seed=4)
    before = np.asarray(dream(photo, model=model, **SETTINGS))
    model.set_weights(tiny_conv_model(seed=6).get_weights())  # trained in place, say
    after = np.asarray(dream(photo, model=model, **SETTINGS))
    assert len(built) == 2
    assert not np.array_equal(before, after)


def test_a_dropped_model_is_freed(photo):
    model = tiny_conv_model(seed=5)
    dream(photo, model=model, **SETTINGS)
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None


def test_a_model_keeps_only_its_latest_builds():
    class Model:
        def get_weights(self):
            return [np.ones((2, 2), np.float32)]

    model, calls = Model(), []
    for key in range(PER_MODEL + 2):
        kept_for_model(model, key, lambda k=key: calls.append(k) or k)
    assert kept_for_model(model, PER_MODEL + 1, lambda: "new") == PER_MODEL + 1
    assert kept_for_model(model, 0, lambda: "rebuilt") == "rebuilt"


def test_an_unhashable_key_builds_every_time():
    class Model:
        def get_weights(self):
            return []

    model = Model()
    assert kept_for_model(model, ["unhashable"], lambda: 1) == 1
    assert kept_for_model(model, ["unhashable"], lambda: 2) == 2


def test_the_fingerprint_sees_one_value_changed_in_place_and_a_moved_row():
    from dreamer.models.model_cache import weights_fingerprint

    model = tiny_conv_model(seed=3)
    before = weights_fingerprint(model)
    assert weights_fingerprint(model) == before  # the same weights: the same fingerprint, every time
    assert "_dreamer_checksums" in model.__dict__  # TensorFlow: the checksums computed where the weights are
    variable = model.weights[0]
    original = variable.numpy()
    for changed in (np.nextafter(original, 10.0), original[::-1]):  # one ulp everywhere, then rows swapped
        nudged = original.copy()
        nudged.flat[5] = changed.flat[5]
        for value in (nudged, changed):
            variable.assign(value)
            assert weights_fingerprint(model) != before
    variable.assign(original)
    assert weights_fingerprint(model) == before


def test_a_model_with_bfloat16_weights_is_fingerprinted_by_its_bytes():
    import keras

    from dreamer.models.model_cache import weights_fingerprint

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, dtype="bfloat16")(inputs))
    before = weights_fingerprint(model)
    assert "_dreamer_checksums" not in model.__dict__  # 2-byte weights: the BLAKE2 digest
    model.weights[0].assign(model.weights[0] * 2)
    assert weights_fingerprint(model) != before
