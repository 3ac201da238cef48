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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import click

from dreamer.errors import DreamerError, ImageError
from dreamer.fileio import default_cache_dir

DEFAULT_OUTPUT_DIR = Path("outputs")


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


def plan_outputs(inputs: list[Path], output: Path | None) -> list[Target]:
    """Check ``-o`` against the inputs and prepare the output folder.

    One input and ``-o`` naming a file (not an existing folder, no trailing
    slash): that file. Otherwise ``-o`` (or ``outputs/``) is a folder,
    created if missing.

    Raises:
        DreamerError: the folder can't be made or written, or the file's
            extension is not an image format Pillow writes.
    """
    from dreamer.images import writable_format

    if output is not None and len(inputs) == 1 and not _is_folder_like(output):
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


def make_dreamer(model, layers: list[str], loss: str, cache_dir, weights, preprocess, precision: str = "auto"):
    """Load the model once, prepare the objective (checks every layer name) and
    build the gradient (so a model that can't run in the asked precision is
    refused before any work)."""
    from dreamer.api import Dreamer

    dreamer = Dreamer(
        model or "efficientnet-lite0", layers or None, loss=loss,
        cache_dir=cache_dir or default_cache_dir(), weights=weights, preprocess=preprocess, precision=precision,
    )
    dreamer.gradient  # noqa: B018 - compiled once here for the whole batch
    return dreamer


def load_adapter(model, cache_dir, weights, preprocess, labels_file: str | None = None):
    """The adapter alone (for ``layers`` and ``classify``), with optional class names."""
    from dreamer.models import load_model

    adapter = load_model(
        model or "efficientnet-lite0", Path(cache_dir) if cache_dir else default_cache_dir(),
        Path(weights) if weights else None, preprocess,
    )
    if labels_file is not None:
        names = Path(labels_file).read_text(encoding="utf-8").splitlines()
        adapter.labels = [n.strip() for n in names if n.strip()]
    return adapter


def dream_one(dreamer, target: Target, config, max_size: int | None, quiet: bool) -> Path:
    """Load, dream and save one input; returns the path written.

    Raises:
        DreamerError: the input can't be read, the dream failed, or the
            result can't be written (no partial file is left).
    """
    from dreamer.images import save_image

    loaded_name = click.format_filename(str(target.input))
    with StepBar(loaded_name, quiet) as bar:
        result = dreamer.dream(target.input, config, bar.update, max_size)
    metadata = {**result.info["dreamer"], "input": target.input.name}
    save_image(result, target.output, metadata)
    return target.output


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


class StepBar:
    """A progress bar on stderr fed by the engine's Progress events; notes print as lines."""

    def __init__(self, label: str, quiet: bool):
        self.label = label
        self.quiet = quiet
        self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
        return False

    def update(self, event) -> None:
        if self.quiet:
            return
        if event.message:
            click.echo(f"{self.label}: {event.message}", err=True)
            return
        if self._bar is None:
            self._bar = click.progressbar(
                length=event.octaves * event.steps, label=self.label, file=click.get_text_stream("stderr"),
                show_pos=True, item_show_func=lambda _: self._where,
            )
            self._bar.__enter__()
        self._where = f"octave {event.octave + 1}/{event.octaves} {event.shape[1]}x{event.shape[0]}"
        self._bar.update(1)

    _where = ""


def safe_name(text: str) -> str:
    """A file-name-safe form of a model or layer label."""
    if os.sep in text or "/" in text or Path(text).suffix in (".keras", ".h5", ".pb"):
        text = Path(text).stem
    return re.sub(r"[^A-Za-z0-9._=+-]+", "-", text).strip("-") or "dream"


def _is_folder_like(path: Path) -> bool:
    return path.is_dir() or str(path).endswith((os.sep, "/"))


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
