"""Where a command's settings come from: defaults, files, a preset, the command line.

Lowest first: each option's default; the user's file
(``$XDG_CONFIG_HOME/dreamer/config.toml``); a preset (``dream`` only:
``--preset``, or a ``preset`` key in a file); ``--config FILE.toml``; the
command line. ``dream`` reads a file's top-level keys, ``dream zoom`` its
``[zoom]`` table (likewise atlas, probe, video). The files and the preset
become click's ``default_map``, so the command line overrides them with no
code of its own, and every value is checked by the option's own click type
and callback before any work, an option made from a ``Setting`` by that
Setting's rule (a bad key or value is a one-line error naming the file and
the key). ``--show-config`` prints each setting, by the flag the user types,
and where it came from. The file format is ``dreamer.configfile``'s.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Iterable

import click

from dreamer.cli.common import UserError
from dreamer.errors import DreamerError

#: Options that choose where settings come from; they are no settings themselves.
SOURCE_OPTIONS = ("config", "preset", "show_config", "help")
_SOURCES = "dreamer.setting_sources"
_GIVEN = "dreamer.given_options"


def settings_file_options(func):
    """--config, --preset and --show-config (``dream``)."""
    return _source_options(func, presets=True)


def config_file_options(func):
    """--config and --show-config (the commands with a table of their own: atlas, probe, video, zoom)."""
    return _source_options(func, presets=False)


def _source_options(func, presets: bool):
    options = [
        click.option("--config", "config", type=click.Path(dir_okay=False), default=None, metavar="FILE.toml",
                     help="Read settings from this TOML file (each option a key: iterations = 20, "
                          "layer = [\"block4c_add\"]; another command's in its own table: [zoom], [video], [probe], "
                          "[atlas], [explain], [examples], [report]); the command line overrides it."),
        *([click.option("--preset", default=None, metavar="NAME",
                        help="Start from a named preset (subtle, classic, deep, print; 'dream presets' shows "
                             "them); options you give override it.")] if presets else []),
        click.option("--show-config", is_flag=True, is_eager=True, expose_value=False, callback=_show_config,
                     help="Print the settings that would be used and where each comes from, then exit."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


class ConfiguredCommand(click.Command):
    """A command whose option defaults come from the settings files and the preset (see module doc).

    ``table``: the settings file's table this command reads (None: the top-level keys, ``dream``'s).
    """

    def __init__(self, *args, table: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.table = table

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        opts, _, _ = self.make_parser(ctx).parse_args(args=list(args))
        values, sources = configured_defaults(self, ctx, opts.get("config"), opts.get("preset"))
        ctx.default_map = {**(ctx.default_map or {}), **values}
        ctx.meta[_SOURCES] = sources
        ctx.meta[_GIVEN] = {name: value for name, value in opts.items() if name not in SOURCE_OPTIONS}
        return super().parse_args(ctx, args)


def configured_defaults(command: click.Command, ctx: click.Context, config_path: str | None,
                        preset_name: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """The values the files and the preset give each option, and where each came from.

    Raises:
        UserError: a bad file, key, value or preset name (one line).
    """
    from dreamer.configfile import read_toml, user_config_path
    from dreamer.presets import preset_settings

    layers: list[tuple[str, Path | None, dict]] = []
    table = getattr(command, "table", None)
    where = f" [{table}]" if table else ""
    try:
        user_path = user_config_path()
        user = read_toml(user_path, table) if user_path.is_file() else {}
        given = read_toml(config_path, table) if config_path else {}
        if table is None:
            preset_name = preset_name or given.get("preset") or user.get("preset")
        layers.append((f"user config {user_path}{where}", user_path, user))
        if preset_name:
            layers.append((f"preset {preset_name}", None, preset_settings(preset_name)))
        if config_path:
            layers.append((f"config {config_path}{where}", Path(config_path), given))
    except DreamerError as exc:
        raise UserError(str(exc)) from None
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for label, path, mapping in layers:
        for key, value in mapping.items():
            if key == "preset" and table is None:
                continue
            param = find_option(command, key, path, f"dream {table}" if table else "dream")
            values[param.name] = checked_value(ctx, param, value, path, key)
            sources[param.name] = label
    return values, sources


def find_option(command: click.Command, key: str, path: Path | None, command_path: str = "dream") -> click.Option:
    """The option a TOML key names (``octave-scale``, ``octave_scale``, ``layer``, ``layers``)."""
    wanted = key.strip().replace("-", "_")
    options = [p for p in command.params if isinstance(p, click.Option) and p.name not in SOURCE_OPTIONS]
    for option in options:
        if wanted == option.name or wanted in _long_names(option.opts):
            return option
    names = sorted({n for o in options for n in _long_names(o.opts)})
    close = difflib.get_close_matches(wanted.replace("_", "-"), [n.replace("_", "-") for n in names], n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UserError(f"{path or 'preset'}: {key!r} is not a setting of {command_path}{hint}")


def checked_value(ctx: click.Context, option: click.Option, value: Any, path: Path | None, key: str) -> Any:
    """A file's value converted and checked as the option itself would from the command line.

    A relative path in a file is relative to that file's folder.
    """
    if option.multiple and not isinstance(value, list):
        value = [value]
    written = value
    problem = _kind_problem(option, value)
    if problem:
        raise UserError(f"{path or 'preset'}: {key} = {written!r}: should be {problem}")
    if isinstance(option.type, click.Path) and path is not None and value is not None:
        value = _beside(path, value)
    elif option.name == "model" and path is not None and (path.parent / str(value)).exists():
        value = os.path.join(path.parent, value)  # a model file beside the settings file
    if option.is_flag and not isinstance(value, bool):
        raise UserError(f"{path}: {key} = {value!r}: should be true or false")
    if isinstance(value, (list, dict)) and not option.multiple and option.nargs == 1:
        raise UserError(f"{path}: {key} = {value!r}: should be one value, not a list")
    try:
        converted = option.type_cast_value(ctx, value)
        if option.callback is not None:  # to check only: click runs it again on the default it becomes
            option.callback(ctx, option, converted)
    except click.BadParameter as exc:
        raise UserError(f"{path or 'preset'}: {key} = {written!r}: {exc.message}") from None
    return converted


def _beside(path: Path, value):
    """A relative path (or each of a pair) in a file, relative to that file's folder; a trailing slash kept
    (-o "results/" is a folder)."""
    if isinstance(value, list):
        return [os.path.join(path.parent, item) for item in value]
    return os.path.join(path.parent, value)


def _kind_problem(option: click.Option, value: Any) -> str:
    """What ``value`` should be when it is of the wrong kind for the option ("" when of the right kind).

    TOML has whole numbers and numbers with a point: a whole-number option refuses ``1.5`` and
    ``1e12`` (which click would cut to an integer); a range is then checked by the option's own type.
    """
    values = value if isinstance(value, list) and option.nargs == 1 else [value]
    setting = getattr(option, "setting", None)
    whole = isinstance(option.type, click.types.IntParamType)
    for item in values:
        if item is None:
            continue
        if whole and (isinstance(item, bool) or not isinstance(item, int)):
            return setting.allowed() if setting is not None else "a whole number"
        if isinstance(item, bool) and isinstance(option.type, click.types.FloatParamType):
            return setting.allowed() if setting is not None else "a number"
    return ""


def settings_text(command: click.Command, ctx: click.Context) -> str:
    """Each setting, its value and where it came from (``--show-config``)."""
    from dreamer.configfile import user_config_path

    sources = ctx.meta.get(_SOURCES, {})
    given = ctx.meta.get(_GIVEN, {})
    defaults = ctx.default_map or {}
    rows = []
    for option in command.params:
        if not isinstance(option, click.Option) or option.name in SOURCE_OPTIONS or option.name == "quiet":
            continue
        if option.name in given:
            value, source = given[option.name], "command line"
        elif option.name in defaults:
            value, source = defaults[option.name], sources.get(option.name, "config")
        elif option.envvar and os.environ.get(option.envvar):
            value, source = os.environ[option.envvar], f"environment ${option.envvar}"
        else:
            value, source = option.get_default(ctx), "default"
        pair = option.nargs > 1 and not option.multiple and isinstance(value, (list, tuple))
        shown = " ".join(map(str, value)) if pair else _shown(value)
        rows.append((shown_name(option), shown, source))
    width = max(len(name) for name, _, _ in rows)
    value_width = min(40, max(len(value) for _, value, _ in rows))
    lines = [f"{name:<{width}}  {value:<{value_width}}  ({source})" for name, value, source in rows]
    user_path = user_config_path()
    lines.append(f"\nuser config: {user_path}" + ("" if user_path.is_file() else " (none)"))
    return "\n".join(lines)


def _show_config(ctx: click.Context, param, value) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(settings_text(ctx.command, ctx))
        ctx.exit()


def shown_name(option: click.Option) -> str:
    """The option as the user types it: its long flag (``--size``, not the parameter name ``noise_size``)."""
    longs = [o for o in option.opts if o.startswith("--")]
    return longs[0] if longs else option.opts[0]


def _long_names(opts: Iterable[str]) -> list[str]:
    return [o[2:].replace("-", "_") for o in opts if o.startswith("--")]


def _shown(value: Any) -> str:
    if value is None or repr(value).startswith("Sentinel."):  # click's UNSET: no value at all
        return "-"
    if isinstance(value, (list, tuple)):  # a pair of a repeatable option as typed: --layer-from 100 B
        return ", ".join(" ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v) for v in value) or "-"
    return str(value)
