"""dreamer.config: one definition of every dream setting drives the CLI, the API and the metadata."""

import inspect
import math
import re

import pytest
from click.testing import CliRunner

from dreamer.config import DreamConfig, defaults, settings
from dreamer.errors import DreamerError


def dream_help() -> str:
    from dreamer.cli import main

    return CliRunner().invoke(main, ["--help"], terminal_width=200).output


def test_every_setting_is_an_option_of_dream_with_its_help_and_default():
    text = dream_help()
    for name, setting in settings().items():
        flag = max(setting.flags, key=len)
        assert flag in text, name
        assert setting.help.split(".")[0] in " ".join(text.split()), name
        if defaults()[name] is not None and name != "seed":
            assert f"{flag} " in text and f"[default: {defaults()[name]}" in " ".join(text.split()), name


def test_every_setting_is_a_keyword_of_the_api():
    from dreamer import dream

    keywords = inspect.signature(dream).parameters
    for name, default in defaults().items():
        assert name in keywords, name
        if name != "seed":
            assert keywords[name].default == default, name


def test_an_unknown_api_keyword_is_a_type_error():
    from dreamer.api import _config_from

    with pytest.raises(TypeError, match="'iteration'"):
        _config_from(1, {"iteration": 3})
    assert _config_from(1, {"rotate": 5.0, "scale_jitter": 0.1}) == DreamConfig(seed=1, rotate=5.0, scale_jitter=0.1)


@pytest.mark.parametrize("name, setting", list(settings().items()))
def test_each_setting_refuses_what_its_range_refuses(name, setting):
    outside = []
    if setting.minimum is not None:
        outside.append(setting.minimum - 1 if not setting.above else setting.minimum)
    if setting.maximum is not None:
        outside.append(setting.maximum + 1 if not setting.below else setting.maximum)
    if setting.kind is float:
        outside.append(math.nan)
    for value in outside:
        with pytest.raises(DreamerError, match=re.escape(setting.error)):
            DreamConfig(**{name: value if math.isnan(value) else setting.kind(value)})


def test_the_cli_default_model_is_the_registry_default():
    from dreamer.cli.common import DEFAULT_MODEL_NAME
    from dreamer.models import DEFAULT_MODEL

    assert DEFAULT_MODEL_NAME == DEFAULT_MODEL


def test_usage_errors_name_the_dream_command_not_a_hidden_one():
    from dreamer.cli import main

    result = CliRunner().invoke(main, ["--no-such-option", "x.png"], prog_name="dream")
    assert result.exit_code == 2
    assert "Usage: dream [OPTIONS] INPUT..." in result.output and "dream run" not in result.output


def test_the_model_settings_are_declared_once_for_the_api_the_recipe_and_settings_files():
    from dreamer import dream
    from dreamer.batch.settings import MODEL_KEYS
    from dreamer.config import MODEL_SETTINGS
    from dreamer.configfile import API_KEYS

    assert MODEL_KEYS == tuple(MODEL_SETTINGS)
    assert set(MODEL_SETTINGS) <= set(API_KEYS)
    dream_keywords = set(inspect.signature(dream).parameters)
    assert set(MODEL_SETTINGS) - {"layers", "classes"} <= dream_keywords and {"layers", "classes"} <= dream_keywords
