"""End to end on the real embedded EfficientNet-Lite0: small images, few steps."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dreamer.api import Dreamer, objective_gradient
from dreamer.cli import main
from dreamer.engine import (
    DreamConfig,
    ascent_step,
)
from dreamer.errors import DreamerError
from dreamer.images import load_image, read_metadata
from dreamer.objectives import parse_objective

pytestmark = pytest.mark.real_model

SAMPLES = __import__("pathlib").Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture
def small_cat(tmp_path):
    path = tmp_path / "cat small.png"
    Image.open(SAMPLES / "chelsea.png").resize((128, 85)).save(path)
    return path


def test_dream_raises_the_default_layer_and_writes_png(runner, small_cat, tmp_path):
    result = runner.invoke(main, ["-i", "3", "--octaves", "2", "--seed", "0", str(small_cat)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "outputs" / "cat small_efficientnet-lite0_block5c_add.png"
    assert read_metadata(out)["model"] == "efficientnet-lite0"
    dreamer = Dreamer(cache_dir=tmp_path / "cache")
    _, before = dreamer.gradient(load_image(small_cat).rgb)
    _, after = dreamer.gradient(load_image(out).rgb)
    assert after > before * 1.2


def test_api_same_seed_same_pixels(tmp_path, small_cat):
    dreamer = Dreamer(layers="block4c_add", cache_dir=tmp_path / "cache")
    config = DreamConfig(iterations=2, octaves=2, seed=5)
    a = np.asarray(dreamer.dream(small_cat, config))
    b = np.asarray(dreamer.dream(small_cat, config))
    np.testing.assert_array_equal(a, b)


def test_classify_names_the_cat(runner):
    result = runner.invoke(main, ["classify", str(SAMPLES / "chelsea.png")])
    assert result.exit_code == 0
    top = result.output.splitlines()[1]
    assert "cat" in top or "tabby" in top


def test_layers_lists_the_default_model(runner):
    result = runner.invoke(main, ["layers"])
    assert result.exit_code == 0
    assert "* block5c_add" in result.output and "top_activation" in result.output
    assert "stem_conv" in result.output.splitlines()[1]


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
