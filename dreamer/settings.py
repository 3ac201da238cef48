"""One way to declare and check a setting, for every command and the Python API.

A setting is a dataclass field made with ``setting(default, help=..., flags=...,
kind=..., minimum=..., maximum=...)``: its ``Setting`` (in the field's
metadata) is the one source of the command-line option (``dreamer.cli.options``),
the TOML key (``dreamer.configfile``, ``dreamer.cli.configured``) and the
check. ``check_fields(self)`` in a settings class's ``__post_init__`` checks
every such field; ``Setting.check`` is the check itself, used for a value
from the command line, a TOML file or the API alike. Every count has an upper
bound, so a typo like ``--iterations 1000000000000`` is refused in one line
before any work.

A few options that are no field of a settings class (``--max-size``,
``--size``, ``--variants``...) are declared here as ``Setting`` constants and
checked the same way.

This module imports nothing heavy, so ``dream --help`` stays fast.
"""

from __future__ import annotations

import math
import numbers
import secrets
from dataclasses import dataclass, field, fields
from typing import Any

from dreamer.errors import DreamerError

#: The largest seed (seeds are drawn below 2**31; numpy and TensorFlow take any 32-bit one).
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class Setting:
    """How one setting is shown and checked.

    Attributes:
        help: one sentence for ``--help`` and the API docstring.
        flags: the command-line flags, long first (``("--iterations", "-i")``).
        kind: ``int``, ``float``, ``bool`` (a switch: ``--x`` and ``--no-x``) or ``str``.
        minimum, maximum: the allowed range (None: open; every count has both).
        above: the minimum itself is not allowed (``value > minimum``).
        below: the maximum itself is not allowed (``value < maximum``).
        unset_help: the ``[default: ...]`` text when the default is None or
            chosen at run time (the seed).
        choices: for ``str``: the allowed values (empty: any text).
    """

    help: str
    flags: tuple[str, ...]
    kind: type
    minimum: float | None = None
    maximum: float | None = None
    above: bool = False
    below: bool = False
    unset_help: str = ""
    choices: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The name a user types: the long flag without its dashes (``octave-scale``)."""
        return next((f[2:] for f in self.flags if f.startswith("--")), self.flags[0].lstrip("-"))

    def allows(self, value: Any) -> bool:
        """Whether ``value`` is of the right kind and in range (None is allowed: the default is None)."""
        return value is None or not self.problem(value)

    def allowed(self) -> str:
        """What is allowed, in words: ``a whole number from 1 to 10000``."""
        if self.kind is bool:
            return "true or false"
        if self.kind is str:
            return f"one of {', '.join(self.choices)}" if self.choices else "a text"
        noun = "a whole number" if self.kind is int else "a number"
        low = None if self.minimum is None else f"{'above' if self.above else 'at least'} {self.minimum:g}"
        high = None if self.maximum is None else f"{'below' if self.below else 'at most'} {self.maximum:g}"
        if self.kind is int and low and high:
            return f"{noun} from {self.minimum:g} to {self.maximum:g}"
        return " ".join([noun, " and ".join(part for part in (low, high) if part)]).strip()

    def problem(self, value: Any) -> str:
        """Why ``value`` is not allowed ("" when it is)."""
        if self.kind is bool:
            return "" if isinstance(value, bool) else self.refusal(value)
        if self.kind is str:
            return "" if isinstance(value, str) and (not self.choices or value in self.choices) else (
                self.refusal(value))
        kind = numbers.Integral if self.kind is int else numbers.Real
        if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
            return self.refusal(value)
        if self.minimum is not None and (value < self.minimum or (self.above and value == self.minimum)):
            return self.refusal(value)
        if self.maximum is not None and (value > self.maximum or (self.below and value == self.maximum)):
            return self.refusal(value)
        return ""

    @property
    def error(self) -> str:
        """What is allowed, as a sentence: ``iterations must be a whole number from 1 to 10000``."""
        return f"{self.name} must be {self.allowed()}"

    def refusal(self, value: Any) -> str:
        """The one-line refusal of ``value``: ``iterations must be a whole number from 1 to 10000 (not 0)``."""
        return f"{self.error} (not {value!r})"

    def check(self, value: Any) -> Any:
        """``value`` itself if allowed.

        Raises:
            DreamerError: one line saying what is allowed.
        """
        if value is not None and self.problem(value):
            raise DreamerError(self.problem(value))
        return value


def new_seed() -> int:
    """A fresh random seed, to be recorded with the result."""
    return secrets.randbelow(2**31)


def setting(default: Any, **meta: Any) -> Any:
    """A dataclass field with its ``Setting`` (the keywords) in its metadata."""
    return field(default=default, metadata={"setting": Setting(**meta)})


def field_of(declared_setting: Setting, default: Any = None) -> Any:
    """A dataclass field that carries an already declared Setting (``MAX_SIZE_SETTING``...)."""
    return field(default=default, metadata={"setting": declared_setting})


def declared(cls) -> dict[str, Setting]:
    """Every field of ``cls`` (a class or an instance) that carries a Setting, in declaration order."""
    return {f.name: f.metadata["setting"] for f in fields(cls) if "setting" in f.metadata}


def declared_defaults(cls) -> dict[str, Any]:
    """Every Setting field's default value."""
    return {f.name: f.default for f in fields(cls) if "setting" in f.metadata}


def check_fields(instance) -> None:
    """Check every Setting field of a settings dataclass (its ``__post_init__`` calls this).

    Raises:
        DreamerError: the first value not allowed, in one line.
    """
    for name, declared_setting in declared(instance).items():
        declared_setting.check(getattr(instance, name))


#: ``--max-size``: one range for every command that shrinks its input (dream, again, zoom, video).
MAX_SIZE_SETTING = Setting(
    help="Downscale the input so its long side is at most this.", flags=("--max-size",), kind=int, minimum=16,
    maximum=65536, unset_help="full resolution")
#: ``--size`` of ``dream --param`` (a rendering from noise).
NOISE_SIZE_SETTING = Setting(help="With --param: the side of the square image rendered from noise.",
                             flags=("--size",), kind=int, minimum=16, maximum=4096)
#: ``--variants`` of ``dream --param``.
VARIANTS_SETTING = Setting(help="With --param: how many images, side by side in the output (fft: made to differ).",
                           flags=("--variants",), kind=int, minimum=1, maximum=64)
#: ``dream classify --top``.
TOP_SETTING = Setting(help="How many classes to show.", flags=("--top", "-k"), kind=int, minimum=1, maximum=1000)
#: ``dream layers --size``.
LAYERS_SIZE_SETTING = Setting(
    help="Show each layer's height and width for an N x N input (0 where the input is too small for the layer).",
    flags=("--size",), kind=int, minimum=1, maximum=65536, unset_help="? for the free sizes")
#: ``--workers`` of ``--executor ray``.
WORKERS_SETTING = Setting(
    help="With --executor ray: how many workers.", flags=("--workers",), kind=int, minimum=1, maximum=4096,
    unset_help="one per GPU on a cluster with GPUs, else one per machine")
#: The frame of ``--layer-from FRAME OBJECTIVE`` (zoom, video).
FRAME_SETTING = Setting(help="A frame number.", flags=("--layer-from",), kind=int, minimum=0, maximum=10_000_000)
