"""The registered models' layer names shipped as data: regenerated here and compared.

(tests/test_zoo.py compares every model's shipped names with its architecture,
which that test builds anyway.)
"""

from __future__ import annotations

import json
from importlib import resources

import pytest

from dreamer.errors import ModelError
from dreamer.models import REGISTRY, catalog
from dreamer.models.catalog_build import generate


def shipped() -> dict:
    return json.loads(resources.files("dreamer").joinpath("data", catalog.DATA_FILE).read_text(encoding="utf-8"))


def test_every_registered_model_is_listed():
    assert list(shipped()["models"]) == [name for name, spec in REGISTRY.items() if spec.architecture]


def test_the_script_writes_exactly_the_shipped_text():
    data = generate(["efficientnet-lite0", "inception5h"])
    text = resources.files("dreamer").joinpath("data", catalog.DATA_FILE).read_text(encoding="utf-8")
    assert catalog.to_json(shipped()) == text
    assert json.loads(catalog.to_json(data))["models"] == {k: shipped()["models"][k] for k in data["models"]}


def test_closed_model_refuses_a_typo_with_the_closest_names():
    with pytest.raises(ModelError, match=r"unknown layer 'block5c_ad' in model 'efficientnet-lite0'; "
                                         r"closest: block5c_add"):
        catalog.check_layers("efficientnet-lite0", ["block5c_add", "block5c_ad"])


def test_graph_model_takes_any_op_name():
    catalog.check_layers("inception5h", ["mixed4c_3x3_pre_relu/conv"])
    assert catalog.layer_channels("inception5h")["mixed4c"] == 512


def test_owners_come_from_the_data():
    assert catalog.models_with(["mixed4c"], REGISTRY) == ["inception5h"]
    assert catalog.models_with(["block1_conv1"], REGISTRY) == ["vgg16", "vgg19", "xception"]


def test_keras_names_are_trusted_only_under_the_keras_that_wrote_them(monkeypatch):
    from importlib import metadata

    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "0.0.1" if name == "keras" else real(name))
    catalog.check_layers("vgg16", ["block4_conv"])  # another Keras may name it so: the model decides
    with pytest.raises(ModelError, match="closest: block5c_add"):
        catalog.check_layers("efficientnet-lite0", ["block5c_ad"])  # dreamer's own names hold everywhere
