"""The settings of ``dream atlas``, declared once (``dreamer.settings``): ``AtlasSettings``, and the
render settings a sheet starts from (``ATLAS_CONFIG`` for pixels, ``FOURIER_ATLAS_CONFIG`` for fft).

Apart from ``dreamer.atlas`` (which renders, and imports TensorFlow's side of
the package) so that the command's options and ``--show-config`` need
nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dreamer.config import DreamConfig
from dreamer.param.settings import FOURIER_ATLAS_CONFIG, PARAMETERISATIONS, FourierConfig
from dreamer.settings import MAX_SEED, check_fields, setting

#: The atlas' pixel rendering settings (``--param pixels``): each tile is ``ATLAS_TILE_SIZE`` px.
ATLAS_CONFIG = DreamConfig(
    iterations=24, octaves=3, octave_scale=1.5, step_size=2.0, jitter=8,
    laplacian_levels=4, rotate=5.0, scale_jitter=0.05,
)
ATLAS_TILE_SIZE = 128
#: The atlas' default parameterisation (``benchmarks/atlas_param.py`` measured it against pixels).
ATLAS_PARAM = "fft"


@dataclass(frozen=True)
class AtlasSettings:
    """How a sheet is rendered; each field's meaning is its ``Setting.help``."""

    param: str = setting(
        ATLAS_PARAM, help="fft: Fourier coefficients in decorrelated colour, Adam, random pad/shift/scale/rotation "
                          "(less grain); pixels: gradient ascent on the pixels over octaves.",
        flags=("--param",), kind=str, choices=PARAMETERISATIONS)
    variants: int = setting(
        1, help="Tiles per channel or class, a row each. With fft a diversity term makes them differ; with pixels "
                "they differ by their seed only.", flags=("--variants",), kind=int, minimum=1, maximum=64)
    diversity: float = setting(
        FOURIER_ATLAS_CONFIG.diversity, help="fft: the weight of the diversity term between variants.",
        flags=("--diversity",), kind=float, minimum=0.0, maximum=1e6)
    size: int = setting(
        ATLAS_TILE_SIZE, help="Each tile's side in pixels.", flags=("--size",), kind=int, minimum=32, maximum=2048)
    iterations: int | None = setting(
        None, help="fft: Adam steps; pixels: gradient-ascent steps per octave.", flags=("--iterations", "-i"),
        kind=int, minimum=1, maximum=10000,
        unset_help=f"{FOURIER_ATLAS_CONFIG.steps} for fft, {ATLAS_CONFIG.iterations} for pixels")
    octaves: int = setting(
        ATLAS_CONFIG.octaves, help="pixels: number of scales, the full tile size included.", flags=("--octaves",),
        kind=int, minimum=1, maximum=20)
    laplacian_levels: int = setting(
        ATLAS_CONFIG.laplacian_levels, help="pixels: Laplacian-pyramid gradient normalisation levels; 0 is off.",
        flags=("--laplacian",), kind=int, minimum=0, maximum=12)
    columns: int | None = setting(
        None, help="Tiles per row.", flags=("--columns",), kind=int, minimum=1, maximum=1024,
        unset_help="about square; with --variants, one row per channel or class")
    seed: int = setting(
        0, help="Random seed of the start noise and the jitter (channel c uses seed + c).", flags=("--seed",),
        kind=int, minimum=0, maximum=MAX_SEED)

    def __post_init__(self):
        check_fields(self)

    def pixel_config(self) -> DreamConfig:
        """The DreamConfig of a ``--param pixels`` sheet."""
        return replace(ATLAS_CONFIG, iterations=self.iterations or ATLAS_CONFIG.iterations, octaves=self.octaves,
                       laplacian_levels=self.laplacian_levels, seed=self.seed)

    def fourier_config(self) -> FourierConfig:
        """The FourierConfig of an fft sheet."""
        return replace(FOURIER_ATLAS_CONFIG, steps=self.iterations or FOURIER_ATLAS_CONFIG.steps, seed=self.seed,
                       diversity=self.diversity)
