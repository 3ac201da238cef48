"""``dream --param fft|pixels``: render the objective from noise instead of dreaming on a photo.

The options (``noise_options``) belong to the ``dream`` command; this module
holds them and what they do, so ``dreamer.cli.dream`` stays about photos.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

import click

from dreamer.cli import preflight
from dreamer.cli.common import EXIT_FAILED_INPUT, signals_as_exceptions, usage_errors, user_errors
from dreamer.cli.options import setting_option
from dreamer.cli.shared import DreamRequest
from dreamer.errors import DreamerError
from dreamer.param.settings import FOURIER_ATLAS_CONFIG, NOISE_SIZE, PARAMETERISATIONS
from dreamer.settings import NOISE_SIZE_SETTING, VARIANTS_SETTING


@dataclass(frozen=True)
class NoiseRequest:
    """What to render from noise: the parameterisation, the side, how many, and fft's steps (None: default)."""

    param: str
    size: int
    variants: int
    steps: int | None = None


def noise_options(func):
    """--param, --size, --variants: the ``dream`` command's options for rendering from noise."""
    options = [
        click.option("--param", type=click.Choice(PARAMETERISATIONS), default=None,
                     help="Render from noise instead of dreaming on INPUT. fft: Fourier coefficients in "
                          f"decorrelated colour with Adam (-i: steps, default {FOURIER_ATLAS_CONFIG.steps}); "
                          "pixels: the usual ascent from grey noise."),
        setting_option("noise_size", NOISE_SIZE_SETTING, NOISE_SIZE),
        setting_option("variants", VARIANTS_SETTING, 1),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def given_steps(ctx: click.Context, config_settings: dict) -> int | None:
    """``-i`` when typed on the command line (fft's steps), else None (fft's own default)."""
    typed = ctx.get_parameter_source("iterations") == click.core.ParameterSource.COMMANDLINE
    return config_settings["iterations"] if typed else None


def render_from_noise(request: DreamRequest, noise: NoiseRequest) -> None:
    """Check, load the model, render, save; exits 1 if the rendering fails."""
    from dreamer.cli.shared import make_dreamer
    from dreamer.outputs import name_outputs, plan_outputs

    layers, classes = list(request.chosen.get("layers") or ()), request.chosen.get("classes") or ()
    with usage_errors():  # the layers, channels and classes of a registered model: before TensorFlow loads
        if request.chosen.get("guide"):
            raise DreamerError("--guide needs an INPUT image to dream on; it does not work with --param")
        model = preflight.choose_model(request.model, layers, request.say)
        preflight.check_objective(model, layers, classes)
    with user_errors():
        config = noise_config(noise, request.config_settings)
        target = plan_outputs([Path("noise")], request.output)[0]
        chosen = {**request.chosen, "model": model, "mask": None}
        dreamer = make_dreamer(chosen, request.cache_dir, quiet=request.flags.quiet, say=request.say)
        check_class_terms(dreamer.adapter, dreamer.objective)
        target = name_outputs([target], dreamer.adapter.name, dreamer.objective.name, request.flags.overwrite)[0]
    with signals_as_exceptions():
        try:
            written = render_noise(dreamer, target.output, noise, config, request.flags.quiet)
        except DreamerError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_FAILED_INPUT)
    renamed = f"; {target.renamed}" if target.renamed else ""
    request.say(f"wrote {written} ({noise.param}, seed {config.seed}{renamed})")


def check_class_terms(adapter, objective) -> None:
    """Raise if the objective reads a class output that works at the classifier's own size only (see atlas)."""
    from dreamer.models.capabilities import check_class_output_any_size

    for name in set(objective.layer_names()) - set(adapter.layer_names()):
        check_class_output_any_size(adapter, name)


def noise_config(request: NoiseRequest, config_settings: dict):
    """fft: the atlas' FourierConfig (the request's steps, the seed); pixels: the DreamConfig of the options."""
    from dreamer.cli.shared import make_config
    from dreamer.settings import new_seed

    if request.param == "pixels":
        return make_config(**config_settings)
    seed = config_settings.get("seed")
    return replace(FOURIER_ATLAS_CONFIG, steps=request.steps or FOURIER_ATLAS_CONFIG.steps,
                   seed=new_seed() if seed is None else seed)


def render_noise(dreamer, output: Path, request: NoiseRequest, config, quiet: bool) -> Path:
    """Render with a progress bar, put the variants side by side, save with the settings."""
    from dreamer.atlas import contact_sheet
    from dreamer.cli.progress import StepBar
    from dreamer.images import pil_to_loaded, save_image

    with StepBar(f"noise ({request.param})", quiet) as bar:
        images = dreamer.render(request.size, request.param, config, request.variants, bar.update)
    result = images[0] if request.variants == 1 else contact_sheet(
        [pil_to_loaded(image).rgb for image in images], [str(v + 1) for v in range(request.variants)],
        request.variants)
    save_image(result, output, images[0].info["dreamer"])
    return output
