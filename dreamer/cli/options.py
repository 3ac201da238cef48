"""The ``dream`` command's settings options, derived from ``DreamConfig``'s field metadata.

Each DreamConfig field becomes one option: its flags, help text, type and
range come from the field's ``Setting`` (``dreamer.config``), so a new setting
appears here without an edit. Only the seed differs: its option's default is
None (a random seed, drawn and recorded at run time).
"""

from __future__ import annotations

import math
from dataclasses import asdict

import click

from dreamer.config import DreamConfig, Setting, settings


def finite_float(setting: Setting):
    """A click callback that refuses NaN, Inf and values outside the setting's range."""

    def check(ctx, param, value):
        if value is None or (math.isfinite(value) and setting.allows(value)):
            return value
        if setting.maximum is not None:
            raise click.BadParameter(f"{value} is not a number between {setting.minimum:g} and {setting.maximum:g}"
                                     + (" (the maximum excluded)" if setting.below else ""))
        relation = "above" if setting.above else "at least"
        raise click.BadParameter(f"{value} is not a number {relation} {setting.minimum:g}")

    return check


def setting_option(name: str, setting: Setting, default):
    """The click option for one DreamConfig field."""
    flags = sorted(setting.flags, key=len)  # the short flag first, as click shows it
    common = {"help": setting.help, "default": default}
    if default is None:
        common["help"] += f" [default: {setting.unset_help}]"
    else:
        common["show_default"] = True
    if setting.kind is bool:
        return click.option(f"{flags[-1]}/--no-{flags[-1][2:]}", name, **common)
    if setting.kind is int:
        kind = click.IntRange(setting.minimum, setting.maximum)
        return click.option(*flags, name, type=kind, **common)
    return click.option(*flags, name, type=float, callback=finite_float(setting), **common)


def config_options(func):
    """Every DreamConfig field as an option of ``func`` (a click command)."""
    return config_options_from(DreamConfig())(func)


def config_options_from(config: DreamConfig):
    """A decorator: every DreamConfig field as an option, with ``config``'s values as defaults (seed: None)."""

    def decorate(func):
        values = {**asdict(config), "seed": None}
        for name, setting in reversed(list(settings().items())):
            func = setting_option(name, setting, values[name])(func)
        return func

    return decorate
