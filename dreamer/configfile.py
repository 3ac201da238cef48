"""Settings kept in TOML files: the user's defaults, and ``--config FILE.toml``.

A settings file has one key per option of ``dream`` at the top level, and a
table per other command (``[atlas]``, ``[examples]``, ``[explain]``, ``[probe]``,
``[report]``, ``[video]``, ``[zoom]``)
with that command's options:

    preset = "deep"                 # a named preset (dreamer.presets) under the keys below
    layer = ["block4c_add"]         # --layer, repeatable: a list (or one string)
    iterations = 20                 # --iterations
    octave-scale = 1.5              # --octave-scale (octave_scale works too)
    output = "results/"             # -o

    [zoom]                          # dream zoom's settings (the top-level keys are dream's only)
    frames = 120
    layer = ["block4c_add"]
    layer-from = [[60, "block5c_add"], [90, "block3b_add"]]   # the schedule: from frame 60 on, ...

A key is an option's long name without the dashes (``octave-scale``) or its
Python name (``octave_scale``, ``laplacian_levels``). The user's file is
``$XDG_CONFIG_HOME/dreamer/config.toml`` (``~/.config/dreamer/config.toml``).
Order, lowest first: defaults, the user's file, a preset, ``--config FILE``,
the command line. ``load_settings`` gives the same settings to Python
(``dream(image, **load_settings("look.toml"))``); options that only make
sense for the command (output, overwrite, quiet, recursive, force) are left
out there. Errors are one line that names the file and the key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from dreamer.config import MODEL_SETTINGS, settings
from dreamer.errors import DreamerError
from dreamer.settings import MAX_SIZE_SETTING

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

#: Options of the command with no meaning for ``dream()``.
COMMAND_ONLY = ("output", "overwrite", "quiet", "recursive", "force")
#: ``dream()``'s keywords other than the DreamConfig fields, with the type of their TOML value.
API_KEYS: dict[str, tuple[type, ...]] = {
    **MODEL_SETTINGS, "max_size": (int,), "cache_dir": (str,), "seed": (int,),
}
#: The commands with a table of their own in a settings file.
COMMAND_TABLES = ("atlas", "examples", "explain", "probe", "report", "video", "zoom")
#: Spellings of the repeatable options as the command line writes them.
_ALIASES = {"layer": "layers", "class": "classes"}


def user_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/dreamer/config.toml``, else ``~/.config/dreamer/config.toml``."""
    environ = os.environ if environ is None else environ
    base = Path(environ["XDG_CONFIG_HOME"]).expanduser() if environ.get("XDG_CONFIG_HOME") else (
        Path.home() / ".config")
    return base / "dreamer" / "config.toml"


def read_toml(path: str | os.PathLike, table: str | None = None) -> dict[str, Any]:
    """A settings file's keys and values for ``dream`` (its top-level keys) or for the command ``table``
    (its ``[table]``; empty when the file has none).

    Raises:
        DreamerError: the file is missing, unreadable or not TOML, or a table is not a command's.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DreamerError(f"{path}: no such settings file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DreamerError(f"{path}: cannot read the settings file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise DreamerError(f"{path}: not valid TOML ({exc})") from None
    tables = {key for key, value in data.items() if isinstance(value, dict)}
    for key in tables - set(COMMAND_TABLES):
        raise DreamerError(f"{path}: [{key}] is a table; dream's settings are top-level keys (iterations = 20), "
                           f"and only {', '.join(f'[{name}]' for name in COMMAND_TABLES)} tables are read")
    if table is None:
        return {key: value for key, value in data.items() if key not in tables}
    chosen = data.get(table, {})
    for key, value in chosen.items():
        if isinstance(value, dict):
            raise DreamerError(f"{path}: [{table}.{key}] is a table; [{table}] holds keys only (frames = 60)")
    return dict(chosen)


def setting_name(key: str) -> str:
    """A TOML key in its Python spelling: dashes become underscores, flags become names."""
    name = key.strip().replace("-", "_")
    if name in _ALIASES:
        return _ALIASES[name]
    for field_name, setting in settings().items():
        if name in (flag.lstrip("-").replace("-", "_") for flag in setting.flags if flag.startswith("--")):
            return field_name
    return name


def load_settings(path: str | os.PathLike | None = None, preset: str | None = None) -> dict[str, Any]:
    """``dream()`` keyword arguments from a settings file and/or a preset (the file's keys win).

    Raises:
        DreamerError: a bad file, an unknown key, a value of the wrong type or range, an unknown preset.
    """
    from dreamer.presets import preset_settings

    values = read_toml(path) if path is not None else {}
    preset = preset or values.pop("preset", None)
    values.pop("preset", None)
    chosen = {}
    for key, value in values.items():
        name = setting_name(key)
        if name in COMMAND_ONLY:
            continue
        check_value(name, value, f"{path}: {key}")
        chosen[name] = value
    return {**(preset_settings(preset) if preset else {}), **chosen}


def check_value(name: str, value: Any, where: str) -> None:
    """Refuse a key ``dream()`` doesn't take, or a value of the wrong type or range.

    Raises:
        DreamerError: naming ``where`` (the file and key).
    """
    known = {**settings(), "max_size": MAX_SIZE_SETTING}
    if name in known:
        if known[name].problem(value):
            raise DreamerError(f"{where}: {known[name].problem(value)}")
        return
    if name not in API_KEYS:
        raise DreamerError(f"{where}: not a setting of dream")
    if not isinstance(value, API_KEYS[name]) or (isinstance(value, bool) and bool not in API_KEYS[name]):
        expected = " or ".join(t.__name__ for t in API_KEYS[name]).replace("str", "a string")
        raise DreamerError(f"{where}: {value!r} should be {expected}")
