"""Objectives: the grammar, binding to a model, and that ascent raises every kind."""

from __future__ import annotations

import numpy as np
import pytest

from dreamer.api import objective_gradient
from dreamer.engine import DreamConfig, ascent_step
from dreamer.errors import DreamerError, ModelError
from dreamer.models import adapter_for_keras
from dreamer.objectives import (
    ChannelObjective,
    ClassObjective,
    LayerObjective,
    NeuronObjective,
    bind,
    channel,
    channel_list_text,
    class_logit,
    combine,
    guide,
    guided,
    layer,
    neuron,
    parse_channel_list,
    parse_objective,
)

#: Runs under every Keras backend in CI (``-m backends``).
pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
def adapter(tiny_classifier):
    adapter = adapter_for_keras(tiny_classifier, "tinyclf", "unit")
    adapter.labels = ["tabby", "tiger cat", "Egyptian cat", "goldfish", "great white shark",
                      "hen", "ostrich", "coffee mug", "space shuttle", "pizza"]
    return adapter


@pytest.mark.parametrize(
    "text, name",
    [
        ("conv3", "conv3"),
        ("conv3=0.5", "conv3=0.5"),
        ("conv3:7", "conv3:7"),
        ("conv3:7,8,0-3", "conv3:7-8,0-3"),
        ("conv3:7@center", "conv3:7@center"),
        ("conv3:7@centre", "conv3:7@center"),
        ("class(tabby)", "class(tabby)"),
        ("class( 'tiger cat' )", "class(tiger cat)"),
        ("class(3)", "class(3)"),
        ("conv3 + 0.5*conv2:12", "conv3+conv2:12=0.5"),
        ("conv3 - 0.3*conv1", "conv3+conv1=-0.3"),
        ("conv3:12-0.3*conv1", "conv3:12+conv1=-0.3"),
        ("-conv1", "conv1=-1"),
        ("conv2*2 + 1e-1*conv1", "conv2=2+conv1=0.1"),
        ("conv3[mean] + conv2:1[l2]", "conv3[mean]+conv2:1[l2]"),
        ("conv3=-0.5", "conv3=-0.5"),
    ],
)
def test_grammar(text, name):
    assert parse_objective(text).name == name


def test_names_parse_back_to_the_same_objective():
    text = "conv3 + 0.5*conv2:12,13 - 0.3*conv1:4@center + 2*class(tiger cat) + conv1[mean]"
    objective = parse_objective(text)
    assert parse_objective(objective.name) == objective


def test_terms_are_the_right_kinds_with_natural_losses():
    terms = dict((part.name, (w, part)) for w, part in parse_objective("a + 0.5*b:1,2 - c:3@center + class(x)").terms())
    assert terms["a"] == (1.0, LayerObjective("a", "l2"))
    assert terms["b:1-2"] == (0.5, ChannelObjective("b", (1, 2), "mean"))
    assert terms["c:3@center"] == (-1.0, NeuronObjective("c", 3, "mean"))
    assert terms["class(x)"] == (1.0, ClassObjective("x"))


def test_loss_applies_to_every_term_without_its_own():
    objective = parse_objective("a + b:1 + c:2@center + d[l2]", loss="mean")
    assert [p.loss for _, p in objective.terms()] == ["mean", "mean", "mean", "l2"]
    assert [p.loss for _, p in parse_objective("a + b:1", loss="l2").terms()] == ["l2", "l2"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "expected a layer name or class(...) at position 1, found the end"),
        ("conv3 +", "expected a layer name or class(...) at position 8"),
        ("conv3 conv2", "expected '+', '-' or the end at position 7, found 'c'"),
        ("0.5 conv2", "expected '*' after the weight at position 5"),
        ("conv3:", "expected a channel number at position 7"),
        ("conv3:x", "expected a channel number at position 7, found 'x'"),
        ("conv3:5-2", "expected a range end of at least 5 at position 9"),
        ("conv3:1,2@center", "expected one channel before '@center'"),
        ("conv3:1@middle", "expected 'center' after '@' at position 9"),
        ("conv3[max]", "expected a loss (l2 or mean) at position 7"),
        ("conv3[l2", "expected ']' at position 9"),
        ("class(tabby", "expected ')' closing class("),
        ("class()", "expected a class name or index"),
        ("conv3=", "expected a number at position 7"),
        ("conv3=1e999", "expected a finite number"),
    ],
)
def test_grammar_errors_are_one_line_with_the_position(text, message):
    with pytest.raises(DreamerError) as err:
        parse_objective(text)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_channel_lists():
    assert parse_channel_list("0-3,9") == (0, 1, 2, 3, 9)
    assert channel_list_text((0, 1, 2, 3, 9, 11, 12)) == "0-3,9,11-12"
    with pytest.raises(DreamerError, match="bad channel list '0-3x'"):
        parse_channel_list("0-3x")


def test_combine_keeps_the_older_forms():
    assert combine(["conv1=1", "conv3=0.5"]).name == "conv1+conv3=0.5"
    assert combine({"conv1": 1.0, "conv3:2": 0.5}).name == "conv1+conv3:2=0.5"
    assert combine("conv3").name == "conv3"


def test_bind_resolves_classes_by_name_or_index(adapter):
    assert bind(class_logit("TIGER_cat"), adapter) == ClassObjective("TIGER_cat", 1, "predictions", "tiger cat")
    assert bind(class_logit(7), adapter).label == "coffee mug"
    assert bind(parse_objective("conv3 + class(tabby)"), adapter).layer_names() == ("conv3", "predictions")


@pytest.mark.parametrize(
    "objective, message",
    [
        ("conv4", "unknown layer 'conv4' in model 'tinyclf'; closest: conv3"),
        ("conv3:16", "channel 16 is out of range: conv3 has 16 channels (0-15)"),
        ("conv1:3@center + conv1:9@center", "channel 9 is out of range: conv1 has 8 channels (0-7)"),
        ("class(tabby cat)", "unknown class 'tabby cat' in model 'tinyclf'; closest: tabby"),
        ("class(10)", "class 10 is out of range: model 'tinyclf' has 10 classes (0-9)"),
    ],
)
def test_bind_errors(adapter, objective, message):
    with pytest.raises(ModelError, match=message.replace("(", r"\(").replace(")", r"\)")):
        bind(parse_objective(objective), adapter)


def test_class_needs_a_class_output(tiny_model):
    with pytest.raises(ModelError, match="has no class output"):
        bind(class_logit(1), adapter_for_keras(tiny_model, "tiny", "unit"))


def test_class_name_needs_labels(tiny_classifier):
    unlabelled = adapter_for_keras(tiny_classifier, "nolabels", "unit")
    with pytest.raises(ModelError, match="has no class names; give a class index"):
        bind(class_logit("tabby"), unlabelled)
    assert bind(class_logit("3"), unlabelled).index == 3


def _guide_image():
    y, x = np.mgrid[0:40, 0:40].astype(np.float32)
    return np.stack([0.5 + 0.5 * np.sin(x / 2), 0.5 + 0.5 * np.cos(y / 3), np.full_like(x, 0.3)], -1)


def _objectives(adapter):
    return {
        "layer l2": layer("conv3"),
        "layer mean": layer("conv3", "mean"),
        "channel": channel("conv3", 5),
        "channels": parse_objective("conv2:1,3-5"),
        "neuron": neuron("conv3", 2),
        "class": bind(class_logit("goldfish"), adapter),
        "guide": guide(adapter, "conv2", _guide_image()),
        "weighted sum": parse_objective("conv3 + 0.5*conv2:12 - 0.3*conv1"),
        "negative channel": parse_objective("-conv3:4"),
    }


@pytest.mark.parametrize(
    "kind", ["layer l2", "layer mean", "channel", "channels", "neuron", "class", "guide", "weighted sum",
             "negative channel"]
)
def test_a_few_ascent_steps_raise_every_objective(adapter, photo, kind):
    objective = bind(_objectives(adapter)[kind], adapter)
    gradient = objective_gradient(adapter, objective)
    config = DreamConfig(jitter=0, step_size=2.0)
    rng = np.random.default_rng(0)
    _, before = gradient(photo)
    image = photo
    for _ in range(4):
        image, _ = ascent_step(image, gradient, config, rng)
    _, after = gradient(image)
    assert after > before + 0.05 * abs(before) + 1e-6, (before, after)


def test_class_objective_is_the_logit(adapter, photo, tiny_classifier):
    _, value = objective_gradient(adapter, bind(class_logit(3), adapter))(photo)
    import keras

    logits = keras.ops.convert_to_numpy(tiny_classifier([photo[None]]))[0]
    assert value == pytest.approx(float(logits[3]), rel=1e-5)


def test_neuron_is_the_centre_of_the_feature_map(adapter, photo, tiny_classifier):
    import keras

    _, value = objective_gradient(adapter, neuron("conv3", 2))(photo)
    act = keras.ops.convert_to_numpy(
        keras.Model(tiny_classifier.inputs, tiny_classifier.get_layer("conv3").output)([photo[None]]))
    assert value == pytest.approx(float(act[0, act.shape[1] // 2, act.shape[2] // 2, 2]), rel=1e-5)


def test_guide_prefers_the_guides_own_features(adapter, photo):
    target = _guide_image()
    objective = guide(adapter, "conv2", target)
    gradient = objective_gradient(adapter, objective)
    assert objective.features.shape == (20 * 20, 16)
    assert gradient(target)[1] > gradient(np.full_like(target, 0.5))[1]


def test_guide_keeps_at_most_max_vectors(adapter):
    assert guide(adapter, "conv1", _guide_image(), max_vectors=100).features.shape == (100, 8)


def test_guided_replaces_whole_layers_and_refuses_the_rest(adapter):
    objective = guided(parse_objective("conv3 + 0.5*conv2"), adapter, _guide_image())
    assert objective.name == "guide(conv3)+guide(conv2)=0.5"
    with pytest.raises(DreamerError, match="--guide works with whole layers; conv3:1 is not one"):
        guided(parse_objective("conv3:1"), adapter, _guide_image())
