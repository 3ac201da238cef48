"""The settings of a rendering from noise: ``Moves`` (the random transforms) and ``FourierConfig``.

Declared as ``dreamer.settings`` fields, so they are checked as every other
setting is (one line saying what is allowed). This module imports nothing
heavy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dreamer.config import DreamConfig
from dreamer.errors import DreamerError
from dreamer.settings import MAX_SEED, check_fields, new_seed, setting

#: The parameterisations a rendering from noise can use: Fourier coefficients, or the pixels themselves.
PARAMETERISATIONS = ("fft", "pixels")
#: The side of an image rendered from noise (``dream --param``), unless --size says otherwise.
NOISE_SIZE = 224


@dataclass(frozen=True)
class Moves:
    """The random transforms a rendering from noise must survive (``dreamer.engine.transforms``).

    Attributes:
        pad: grey pixels added on every side before the other moves.
        jitter: the largest shift in pixels (each axis, either way).
        scale: the largest relative scale change (0.1: between 1/1.1 and 1.1).
        rotate: the largest rotation in degrees (either way).
    """

    pad: int = setting(12, help="Grey pixels added on every side before the other moves.", flags=("--pad",),
                       kind=int, minimum=0, maximum=1024)
    jitter: int = setting(8, help="The largest shift in pixels.", flags=("--jitter",), kind=int, minimum=0,
                          maximum=1024)
    scale: float = setting(0.1, help="The largest relative scale change.", flags=("--scale-jitter",), kind=float,
                           minimum=0.0, maximum=1.0, below=True)
    rotate: float = setting(10.0, help="The largest rotation in degrees.", flags=("--rotate",), kind=float,
                            minimum=0.0, maximum=180.0)

    def __post_init__(self):
        check_fields(self)


@dataclass(frozen=True)
class FourierConfig:
    """The settings of a rendering in the Fourier parameterisation (``dreamer.param``).

    Attributes:
        steps: Adam steps.
        learning_rate: Adam's step size on the spectrum.
        decay_power: how steeply the coefficients' scale falls with frequency
            (1: as 1/f, the published choice; 0: a flat spectrum, like pixels).
        diversity: the weight of the diversity term between variants (used
            only when there are several).
        moves: the random transforms' ranges.
        seed: the seed of the starts and the moves.
        batch: the most images optimised together (whole groups of variants).
    """

    steps: int = setting(64, help="Adam steps.", flags=("--steps",), kind=int, minimum=1, maximum=10000)
    learning_rate: float = setting(0.05, help="Adam's step size on the spectrum.", flags=("--learning-rate",),
                                   kind=float, minimum=0.0, above=True, maximum=10.0)
    decay_power: float = setting(1.0, help="How steeply the coefficients' scale falls with frequency.",
                                 flags=("--decay-power",), kind=float, minimum=0.0, maximum=10.0)
    diversity: float = setting(8.0, help="fft: the weight of the diversity term between variants.",
                               flags=("--diversity",), kind=float, minimum=0.0, maximum=1e6)
    moves: Moves = field(default_factory=Moves)
    seed: int = setting(0, help="The seed of the starts and the moves.", flags=("--seed",), kind=int, minimum=0,
                        maximum=MAX_SEED)
    batch: int = setting(16, help="The most images optimised together.", flags=("--batch",), kind=int, minimum=1,
                         maximum=4096)

    def __post_init__(self):
        check_fields(self)


#: The Fourier settings of the atlas and of ``dream --param fft``: as many Adam steps as took the pixel settings'
#: time in ``benchmarks/atlas_param.py``, and a spectrum falling as 1/f^1.25, which halved the grain of 1/f at
#: the same activation and margin.
FOURIER_ATLAS_CONFIG = FourierConfig(steps=71, decay_power=1.25)


def render_config(param: str, config=None):
    """``config`` checked against ``param``, or that parameterisation's default config with a new seed.

    Raises:
        DreamerError: an unknown parameterisation, or a config of the other kind.
    """
    if param not in PARAMETERISATIONS:
        raise DreamerError(f"unknown parameterisation {param!r}; choose {' or '.join(PARAMETERISATIONS)}")
    kind = FourierConfig if param == "fft" else DreamConfig
    config = config or kind(seed=new_seed())
    if not isinstance(config, kind):
        raise DreamerError(f"param {param!r} takes a {kind.__name__}, not a {type(config).__name__}")
    return config
