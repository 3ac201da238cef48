"""Options derived from declared settings (``dreamer.settings``): the one place a ``Setting`` becomes a click option.

Each field of a settings dataclass that carries a ``Setting`` (``DreamConfig``,
``ProbeSettings``, ``ZoomMotion``, ``Coherence``, ``AtlasSettings`` ...)
becomes one option: its flags, help text, type and range come from the
Setting, so a new setting appears here without an edit. The option keeps its
Setting (``SettingOption.setting``), so a value from a TOML file is checked by
the same rule as one typed on the command line.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, Iterable

import click

from dreamer.config import DreamConfig
from dreamer.settings import Setting, declared


class SettingOption(click.Option):
    """A click option made from a ``Setting``, which it keeps (``.setting``) for the settings files' checks."""

    def __init__(self, *args, setting: Setting, **kwargs):
        super().__init__(*args, **kwargs)
        self.setting = setting


def checked_by(setting: Setting):
    """A click callback that refuses NaN, Inf and values outside the setting's range, saying what is allowed."""

    def check(ctx, param, value):
        if value is None or not setting.problem(value):
            return value
        raise click.BadParameter(f"{value} is not {setting.allowed()}")

    return check


def setting_option(name: str, setting: Setting, default):
    """The click option for one setting, named ``name`` (the settings field) in the command's function."""
    flags = sorted(setting.flags, key=len)  # the short flag first, as click shows it
    common = {"help": setting.help, "default": default, "cls": SettingOption, "setting": setting}
    if default is None:
        common["help"] += f" [default: {setting.unset_help}]" if setting.unset_help else ""
    else:
        common["show_default"] = True
    if setting.kind is bool:
        return click.option(f"{flags[-1]}/--no-{flags[-1][2:]}", name, **common)
    if setting.kind is int:
        return click.option(*flags, name, type=click.IntRange(setting.minimum, setting.maximum), **common)
    if setting.kind is str:
        kind = click.Choice(setting.choices) if setting.choices else str
        return click.option(*flags, name, type=kind, **common)
    return click.option(*flags, name, type=float, callback=checked_by(setting), **common)


def options_from(source, names: Iterable[str] | None = None, values: dict[str, Any] | None = None):
    """A decorator: the Setting fields of ``source`` (a settings class or instance) as options.

    Args:
        names: only these fields, in this order (default: every Setting field, in declaration order).
        values: defaults instead of the fields' own (an instance's values are its defaults).
    """
    chosen = declared(source)
    own = {f.name: f.default for f in fields(source)} if isinstance(source, type) else asdict(source)
    values = {**own, **(values or {})}
    names = list(chosen) if names is None else list(names)

    def decorate(func):
        for name in reversed(names):
            func = setting_option(name, chosen[name], values[name])(func)
        return func

    return decorate


def config_options(func):
    """Every DreamConfig field as an option of ``func`` (the seed's default: None, drawn at run time)."""
    return config_options_from(DreamConfig())(func)


def config_options_from(config: DreamConfig):
    """A decorator: every DreamConfig field as an option, with ``config``'s values as defaults (seed: None)."""
    return options_from(config, values={"seed": None})
