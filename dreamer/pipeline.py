"""What the ``dream`` command does, as plain functions the CLI calls.

Output naming and checks that run before any work (the output folder, the
extension, never writing over an input), loading the model once for a batch,
dreaming one input with a progress bar on stderr, and the text of ``dream
layers`` and ``dream classify``. Errors are DreamerErrors with one-line
messages; the CLI decides exit codes.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import click

from dreamer.errors import DreamerError, ImageError
from dreamer.fileio import default_cache_dir

DEFAULT_OUTPUT_DIR = Path("outputs")
DEFAULT_MODEL_NAME = "efficientnet-lite0"


@dataclass(frozen=True)
class Target:
    """One input and where its result goes (``output`` is set once named)."""

    input: Path
    folder: Path | None = None
    output: Path | None = None


def make_config(seed: int | None, **settings):
    """A DreamConfig from the CLI's values; a missing seed is drawn now."""
    from dreamer.api import new_seed
    from dreamer.engine import DreamConfig

    return DreamConfig(seed=new_seed() if seed is None else seed, **settings)


def plan_outputs(inputs: list[Path], output_text: str | None) -> list[Target]:
    """Check ``-o`` against the inputs and prepare the output folder.

    One input and ``-o`` naming a file (not an existing folder, no trailing
    slash): that file. Otherwise ``-o`` (or ``outputs/``) is a folder,
    created if missing.

    Raises:
        DreamerError: the folder can't be made or written, or the file's
            extension is not an image format Pillow writes.
    """
    from dreamer.images import writable_format

    output = Path(output_text) if output_text else None
    if output is not None and len(inputs) == 1 and not _is_folder_like(output_text):
        writable_format(output)
        _ensure_folder(output.parent if str(output.parent) else Path("."))
        return [Target(inputs[0], output=output)]
    folder = DEFAULT_OUTPUT_DIR if output is None else output
    if folder.exists() and not folder.is_dir():
        raise DreamerError(f"{folder}: several inputs need -o to be a folder, and this is a file")
    _ensure_folder(folder)
    return [Target(path, folder=folder) for path in inputs]


def name_outputs(targets: list[Target], model: str, objective: str, overwrite: bool,
                 say: Callable[[str], None]) -> list[Target]:
    """Give every target its output path.

    An input is never overwritten; an existing file is replaced only with
    ``overwrite``, otherwise a free name is chosen and reported. Two inputs
    of one batch never get the same name.
    """
    claimed: set[Path] = set()
    named = []
    for target in targets:
        wanted = target.output or target.folder / f"{target.input.stem}_{safe_name(model)}_{safe_name(objective)}.png"
        if target.output is not None and _same_file(wanted, target.input):
            raise DreamerError(f"{wanted}: the output would overwrite the input; choose another -o")
        path = wanted
        if _taken(path, target.input, claimed, overwrite):
            path = _free_name(wanted, target.input, claimed)
            say(f"{wanted} exists; writing {path} instead (--overwrite replaces it)")
        claimed.add(path.resolve())
        named.append(replace(target, output=path))
    return named


def make_dreamer(model, layers: list[str], loss: str | None, cache_dir, weights, preprocess,
                 classes: tuple[str, ...] = (), guide: str | None = None, *,
                 unsafe_load: bool = False, quiet: bool = False,
                 say: Callable[[str], None] | None = None, precision: str = "auto"):
    """Load the model once, prepare the objective (checks every layer, channel
    and class) and build the gradient (so a model that can't run in the asked
    precision is refused before any work).

    Without ``model``, layers that the default model lacks but exactly one
    registered model has choose that model (``say`` reports it).
    """
    from dreamer.api import Dreamer

    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    if model is None and layers:
        model = model_for_layers(layers, cache_dir, say or (lambda _msg: None))
    model = model or DEFAULT_MODEL_NAME
    with DownloadBar(quiet) as bar:
        dreamer = Dreamer(
            model, layers or None, loss=loss, cache_dir=cache_dir,
            weights=weights or weights_from_environment(model), preprocess=preprocess,
            unsafe_load=unsafe_load, download_progress=bar.update, classes=tuple(classes), guide=guide,
            precision=precision,
        )
    dreamer.gradient  # noqa: B018 - compiled once here for the whole batch
    return dreamer


def model_for_layers(layer_specs: list[str], cache_dir: Path, say: Callable[[str], None]) -> str | None:
    """The registered model to use for layers the default model lacks, or None for the default.

    Raises:
        DreamerError: the layers belong to several registered models.
    """
    from dreamer.models import DEFAULT_MODEL, REGISTRY, layer_names_known, models_with_layers, spec_layer_names
    from dreamer.objectives import combine

    names = list(combine(layer_specs).layers())
    default_names = set(spec_layer_names(REGISTRY[DEFAULT_MODEL], cache_dir))
    missing = [n for n in names if n not in default_names]
    if not missing:
        return None
    if not layer_names_known(cache_dir):
        say(f"looking for {', '.join(missing)} in the other registered models "
            "(the first time, this lists their layers: a few seconds)")
    owners = models_with_layers(names, cache_dir)
    if len(owners) == 1:
        say(f"{', '.join(missing)} is not a layer of {DEFAULT_MODEL}; using {owners[0]}, "
            f"the model it belongs to (--model chooses another)")
        return owners[0]
    if len(owners) > 1:
        raise DreamerError(f"layer {', '.join(missing)} is in several models ({', '.join(owners)}); "
                           "choose one with --model")
    return None


def weights_from_environment(model) -> str | None:
    """A local copy of inception5h named by ``DREAMER_INCEPTION5H`` (the CLI's offline hand-over)."""
    from dreamer.models import find_spec
    from dreamer.models.inception5h import ENV_VAR, MODEL_NAME

    spec = find_spec(str(model)) if isinstance(model, (str, Path)) else None
    if spec is not None and spec.name == MODEL_NAME and os.environ.get(ENV_VAR):
        return os.environ[ENV_VAR]
    return None


def load_mask(path: str | None):
    """The ``--mask`` image, read once before any work (None if not given)."""
    from dreamer.images import load_image

    return None if path is None else load_image(path)


def load_adapter(model, cache_dir, weights, preprocess, labels_file: str | None = None, *,
                 unsafe_load: bool = False, quiet: bool = False, classifier: bool = False):
    """The adapter alone (for ``layers`` and ``classify``), with optional class names.

    With ``classifier``, also check that it has class names and load its
    classification head now (a Keras application downloads it here).
    """
    from dreamer.models import load_model

    model = model or DEFAULT_MODEL_NAME
    weights = weights or weights_from_environment(model)
    with DownloadBar(quiet) as bar:
        adapter = load_model(
            model, Path(cache_dir) if cache_dir else default_cache_dir(),
            Path(weights) if weights else None, preprocess, unsafe=unsafe_load, progress=bar.update,
        )
        if labels_file is not None:
            adapter.labels = read_labels(Path(labels_file))
        if classifier:
            if not adapter.labels:
                raise DreamerError(f"model {adapter.name!r} has no class names; pass --labels FILE")
            adapter.classifier_model()
    return adapter


def read_labels(path: Path) -> list[str]:
    """Class names, one a line (blank lines skipped)."""
    try:
        names = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DreamerError(f"{path}: cannot read the class names ({exc})") from None
    return [n.strip() for n in names if n.strip()]


def models_text() -> str:
    """``dream models``: every registered model, its default layer, preprocessing and weights' source."""
    from dreamer.models import DEFAULT_MODEL, REGISTRY

    blocks = []
    for spec in REGISTRY.values():
        mark = " (default)" if spec.name == DEFAULT_MODEL else ""
        aliases = f"  aliases: {', '.join(spec.aliases)}\n" if spec.aliases else ""
        blocks.append(
            f"{spec.name}{mark}: {spec.description}\n{aliases}"
            f"  default layer: {spec.default_layer}; preprocessing: {spec.preprocessing}\n"
            f"  weights: {spec.source}" + (f"\n  licence: {spec.licence}" if spec.licence else "")
        )
    return "\n".join(blocks) + "\n\n'dream layers --model NAME' lists a model's layers (no download needed)."


def layers_text(model, cache_dir, weights, preprocess, *, unsafe_load: bool = False) -> str:
    """``dream layers``: a registered model's layers come from its architecture (no download)."""
    from dreamer.models import find_spec, model_architecture

    spec = find_spec(str(model or DEFAULT_MODEL_NAME))
    if spec is None or spec.architecture is None or weights is not None:
        return layers_table(load_adapter(model, cache_dir, weights, preprocess, unsafe_load=unsafe_load))
    if preprocess is not None:
        raise DreamerError(f"--preprocess is for your own models; {spec.name} knows its own")
    text = layers_table(model_architecture(spec.name))
    return f"{text}\n{spec.description}\nweights: {spec.source}\n(other models: 'dream models')"


def dream_one(dreamer, target: Target, config, max_size: int | None, quiet: bool, mask=None) -> Path:
    """Load, dream and save one input; returns the path written.

    Raises:
        DreamerError: the input can't be read, the dream failed, or the
            result can't be written (no partial file is left).
    """
    from dreamer.images import save_image

    loaded_name = click.format_filename(str(target.input))
    with StepBar(loaded_name, quiet) as bar:
        result = dreamer.dream(target.input, config, bar.update, max_size, mask)
    metadata = {**result.info["dreamer"], "input": target.input.name}
    save_image(result, target.output, metadata)
    return target.output


def noise_config(param: str, seed: int | None, steps: int | None, pixel_settings: dict):
    """The config of a rendering from noise: a FourierConfig (``steps`` or the atlas') or a DreamConfig."""
    from dreamer.atlas import FOURIER_ATLAS_CONFIG
    from dreamer.api import new_seed

    seed = new_seed() if seed is None else seed
    if param == "fft":
        return replace(FOURIER_ATLAS_CONFIG, steps=steps or FOURIER_ATLAS_CONFIG.steps, seed=seed)
    return make_config(seed, **pixel_settings)


def render_noise(dreamer, output: Path, param: str, size: int, variants: int, config, quiet: bool) -> Path:
    """Render from noise with a progress bar, put the variants side by side, save with the settings."""
    from dreamer.atlas import contact_sheet
    from dreamer.images import pil_to_loaded, save_image

    with StepBar(f"noise ({param})", quiet) as bar:
        images = dreamer.render(size, param, config, variants, bar.update)
    result = images[0] if variants == 1 else contact_sheet([pil_to_loaded(i).rgb for i in images],
                                                           [str(v + 1) for v in range(variants)], variants)
    save_image(result, output, images[0].info["dreamer"])
    return output


def atlas_channels(adapter, layer: str, text: str | None) -> tuple[int, ...]:
    """``--channels`` text (``0-15``, ``3,7,9``, ``all``) -> channel numbers, checked against the layer."""
    from dreamer.objectives import check_channels, parse_channel_list

    info = adapter.layer_info(layer)
    if text is None:
        channels = tuple(range(min(16, info.channels)))
    elif text.strip().lower() == "all":
        channels = tuple(range(info.channels))
    else:
        channels = tuple(dict.fromkeys(parse_channel_list(text)))
    check_channels(adapter, layer, channels)
    return channels


def atlas_plan(adapter, layer: str | None, channels: str | None, classes: tuple[str, ...], param: str,
               variants: int):
    """The sheet to render: channels of ``layer`` (default: the model's), or ``classes`` of the classifier.

    With classes, ``layer`` (default: the model's) is where the variants must differ.

    Raises:
        DreamerError: classes and channels together, an unknown layer or class, a channel out of range.
    """
    from dreamer.atlas import AtlasPlan, class_units

    if classes:
        if channels is not None:
            raise DreamerError("--class and --channels can't be combined: a sheet shows channels or classes")
        diversity_layer = layer or adapter.default_layer
        adapter.layer_info(diversity_layer)
        class_layer, indices, labels = class_units(adapter, classes)
        return AtlasPlan(class_layer, tuple(indices), tuple(labels), param, variants, diversity_layer)
    layer = layer or adapter.default_layer
    chosen = atlas_channels(adapter, layer, channels)
    return AtlasPlan(layer, chosen, tuple(str(c) for c in chosen), param, variants)


def atlas_label(plan) -> str:
    """The output name's part: ``<layer>_<first>-<last>``, ``<layer>``, or ``class_<names>``."""
    if plan.diversity_layer is not None:
        return "class_" + "+".join(plan.labels)
    units = plan.units
    return f"{plan.layer}_{units[0]}-{units[-1]}" if units == tuple(range(units[0], units[-1] + 1)) else plan.layer


def render_atlas(adapter, plan, pixel_config, fourier_config, size: int, columns: int | None,
                 output: Path, quiet: bool) -> Path:
    """Render the plan's tiles with a progress bar on stderr, lay them out and save the sheet."""
    from dreamer import __version__
    from dreamer.atlas import contact_sheet, plan_steps, render_plan
    from dreamer.images import save_image
    from dreamer.objectives import channel_list_text

    length = plan_steps(plan, pixel_config, fourier_config)
    with _LazyBar(quiet) as bar:

        def progress(position: int, event) -> None:
            if not quiet and event.message is None:
                bar._advance(1, f"{plan.labels[position]} ({position + 1}/{len(plan.units)})",
                             length=length, label=f"atlas {plan.layer}", show_pos=True,
                             item_show_func=lambda item: item)

        tiles = render_plan(adapter, plan, pixel_config, fourier_config, size, progress)
    labels = [label for label in plan.labels for _ in range(plan.variants)]
    sheet = contact_sheet(tiles, labels, plan.variants if plan.variants > 1 else columns)
    config = asdict(pixel_config if plan.param == "pixels" else fourier_config)
    metadata = {
        "dreamer_version": __version__, "model": adapter.name, "atlas_layer": plan.layer,
        "channels": channel_list_text(plan.units), "labels": list(plan.labels), "param": plan.param,
        "variants": plan.variants, "diversity_layer": plan.diversity_layer, "tile_size": size, **config,
    }
    save_image(sheet, output, metadata)
    return output


def layers_table(adapter) -> str:
    """``dream layers``: each dreamable layer, its shape and channels; the default marked."""
    rows = [("", "layer", "output (HxWxC)", "channels")]
    for info in adapter.layers():
        shape = "x".join("?" if d is None else str(d) for d in info.shape)
        mark = "*" if info.name == adapter.default_layer else ""
        rows.append((mark, info.name, shape, str(info.channels)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"{r[0]:1} {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:>{widths[3]}}" for r in rows]
    lines.append(f"\nmodel {adapter.name}: {len(rows) - 1} layers; * marks the default ({adapter.default_layer})")
    if getattr(adapter, "layer_note", ""):
        lines.append(adapter.layer_note)
    return "\n".join(lines)


def classify_text(adapter, path: Path, top: int) -> str:
    """``dream classify``: the image's top classes with probabilities, one a line."""
    from dreamer.classify import classify
    from dreamer.images import load_image

    if not adapter.labels:
        raise DreamerError(f"model {adapter.name!r} has no class names; pass --labels FILE")
    predictions = classify(adapter, load_image(path).rgb, top)
    lines = [f"{click.format_filename(str(path))}:"]
    lines += [f"  {prob * 100:6.2f}%  {label}" for label, prob in predictions]
    return "\n".join(lines)


class _LazyBar:
    """A click progress bar on stderr, opened at its first update and closed with the ``with`` block."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
        return False

    def _advance(self, steps: int, item=None, **options) -> None:
        """Move on by ``steps`` (showing ``item``); ``options`` go to click.progressbar when it opens."""
        if self._bar is None:
            self._bar = click.progressbar(file=sys.stderr, **options)
            self._bar.__enter__()
        self._bar.update(steps, item)


class DownloadBar(_LazyBar):
    """A progress bar for a download, fed ``update(done, total)``; silent when quiet."""

    def __init__(self, quiet: bool, label: str = "downloading weights"):
        super().__init__(quiet)
        self.label = label
        self._done = 0

    def update(self, done: int, total: int | None) -> None:
        if self.quiet:
            return
        self._advance(done - self._done, length=total, label=self.label, show_percent=total is not None,
                      show_pos=False)
        self._done = done


class StepBar(_LazyBar):
    """A progress bar fed by the engine's Progress events; notes print as lines."""

    def __init__(self, label: str, quiet: bool):
        super().__init__(quiet)
        self.label = label
        self._where = ""

    def update(self, event) -> None:
        if self.quiet:
            return
        if event.message:
            click.echo(f"{self.label}: {event.message}", err=True)
            return
        self._where = f"octave {event.octave + 1}/{event.octaves} {event.shape[1]}x{event.shape[0]}"
        self._advance(1, length=event.octaves * event.steps, label=self.label, show_pos=True,
                      item_show_func=lambda _: self._where)


def safe_name(text: str) -> str:
    """A file-name-safe form of a model or layer label."""
    if os.sep in text or "/" in text or Path(text).suffix in (".keras", ".h5", ".pb"):
        text = Path(text).stem
    return re.sub(r"[^A-Za-z0-9._=+-]+", "-", text).strip("-") or "dream"


def _is_folder_like(text: str) -> bool:
    """A folder, or meant as one: it exists as a folder or ends with a slash."""
    return Path(text).is_dir() or text.endswith((os.sep, "/"))


def _ensure_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageError(f"{folder}: cannot create the output folder ({exc.strerror or exc})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ImageError(f"{folder}: the output folder is not writable")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _taken(path: Path, source: Path, claimed: set[Path], overwrite: bool) -> bool:
    if path.resolve() in claimed or _same_file(path, source):
        return True
    return path.exists() and not overwrite


def _free_name(path: Path, source: Path, claimed: set[Path]) -> Path:
    for n in range(1, 100_000):
        candidate = path.with_name(f"{path.stem}_{n}{path.suffix}")
        if not _taken(candidate, source, claimed, overwrite=False):
            return candidate
    raise DreamerError(f"{path}: no free output name left")
