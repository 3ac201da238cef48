"""Checks that answer a user's mistake before TensorFlow loads: milliseconds, not seconds.

Everything here runs on file headers, the command line and the layer names
shipped with the package (``dreamer.models.catalog``); nothing imports
TensorFlow. The CLI calls these before it loads a model, so a typo in a
1,000-file glob, a wrong layer name or a missing network file is answered
at once. Only what needs the model itself (a class name, a channel number,
the layers of the user's own file) waits for it.

- ``image_size(path)``: the (width, height) from the header, or an
  ImageError for a missing file, a folder, an empty file or a non-image;
- ``check_input(path, max_size, min_side)``: that, and too small for the
  model even at full size;
- ``check_output(inputs, output)``: ``-o`` naming one image file for several
  inputs, or the input itself;
- ``choose_model(model, layer_specs, say)``: the model to load (the one that
  has the layers, if none was named), with every layer name checked, or the
  user's model file, which must exist;
- ``check_objective(model, layer_specs, classes, labels_file)``: channel
  numbers and class names checked against the registered model's shipped
  layer list and ImageNet class names (or the user's ``--labels`` file);
- ``check_atlas(model, layer, channels, classes, labels_file)``: the same
  for ``dream atlas`` (its ``--channels`` list included);
- ``check_result_file(path)``: a result that carries no settings (``dream
  info``, ``dream again``);
- ``ensure_inception5h(...)``: the GoogLeNet file present or fetched, else a
  few short lines: what is missing, its URL, the command that hands it over;
- ``large_image_hint(path, size)``: the one-time note about ``--max-size``.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Callable, Sequence

from dreamer.errors import DreamerError, ImageError, ModelError

#: Above this many pixels (with no --max-size) the user is told once what --max-size does.
LARGE_IMAGE_PIXELS = 4_000_000
#: The --max-size the hint suggests.
SUGGESTED_MAX_SIZE = 1024


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) read from the file's header (nothing is decoded): ``dreamer.images.image_size``.

    Raises:
        ImageError: no such file, a folder, an empty file, or not an image Pillow reads.
    """
    from dreamer.images import image_size as header_size

    return header_size(path)


def fitted_size(size: tuple[int, int], max_size: int | None) -> tuple[int, int]:
    """The (width, height) after ``--max-size`` (which never enlarges), as ``images.fit_within`` rounds."""
    width, height = size
    if max_size is None or max(width, height) <= max_size:
        return width, height
    scale = max_size / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def check_input(path: Path, max_size: int | None = None, min_side: int | None = None) -> tuple[int, int]:
    """The input's (width, height) from its header, checked against the model's smallest side.

    Raises:
        ImageError: not a readable image, or smaller than the model accepts
            even at full size (so no octave could run).
    """
    size = image_size(path)
    width, height = fitted_size(size, max_size)
    if min_side is not None and min(width, height) < min_side:
        after = f" after --max-size {max_size}" if (width, height) != size else ""
        raise ImageError(f"{path}: image is {width}x{height}{after}; the model needs at least "
                         f"{min_side}x{min_side} pixels")
    return size


def check_output(inputs: Sequence[Path], output: str | None) -> None:
    """``-o`` against the inputs: one image file for several inputs, or an input itself, is refused.

    Raises:
        DreamerError: one line saying what to give instead.
    """
    from dreamer.outputs import is_folder_like, same_file

    if output is None:
        return
    target = Path(output)
    folder_like = is_folder_like(output)
    if len(inputs) > 1 and not folder_like and _is_image_name(target):
        raise DreamerError(f"-o {output} names one image file, but there are {len(inputs)} inputs; "
                           f"give a folder for them (-o {target.with_suffix('')}/)")
    if len(inputs) == 1 and not folder_like and same_file(target, Path(inputs[0])):
        raise DreamerError(f"{output}: the output would overwrite the input; choose another -o")


def model_min_side(model: str) -> int | None:
    """The smallest image side a registered model accepts (None: not registered, the model decides later)."""
    from dreamer.models import catalog, find_spec

    spec = find_spec(str(model))
    return None if spec is None else catalog.min_size(spec.name)


def objective_layer_names(layer_specs: Sequence[str]) -> list[str]:
    """The layer names the objective texts use (classes left out: they need the model's labels).

    Raises:
        DreamerError: an objective text that does not parse.
    """
    from dreamer.objectives import ClassObjective, combine

    names: list[str] = []
    for _, term in combine(list(layer_specs)).terms():
        if not isinstance(term, ClassObjective):
            names += [name for name in term.layer_names() if name not in names]
    return names


def choose_model(model: str | None, layer_specs: Sequence[str], say: Callable[[str], None]) -> str:
    """The model to load, with the layer names checked against the registered model's shipped names.

    Without ``model``: the default, or the one registered model that has
    layers the default lacks (``say`` reports the choice).

    Raises:
        DreamerError: a layer that the model does not have (with the closest
            names), a layer of several models, an objective that does not parse,
            or a model that is neither registered nor an existing path.
    """
    from dreamer.models import DEFAULT_MODEL, model_for_layers

    names = objective_layer_names(layer_specs) if layer_specs else []
    if model is None and names:
        model = model_for_layers(names, None, say)
    model = model or DEFAULT_MODEL
    return registered_with_layers(str(model), names) or str(model)


def registered_with_layers(model: str, names: Sequence[str]) -> str | None:
    """A registered model's name, its shipped layer names holding every one of ``names``; None for a model
    file (which must exist).

    Raises:
        DreamerError: a layer the model does not have (with the closest names), or no such model file.
    """
    from dreamer.models import catalog, find_spec
    from dreamer.models.registry import model_path

    spec = find_spec(model)
    if spec is None:
        model_path(model)
        return None
    catalog.check_layers(spec.name, names)
    return spec.name


def check_objective(model: str, layer_specs: Sequence[str], classes: Sequence[str] = (),
                    labels_file: str | None = None) -> None:
    """Channels out of range and unknown class names, for a registered ``model`` (a user's file waits for
    the model). ``labels_file`` replaces the shipped class names.

    Raises:
        DreamerError: the first channel or class the model does not have (with the closest class names).
    """
    from dreamer.models import catalog, find_spec
    from dreamer.objectives import ChannelObjective, ClassObjective, NeuronObjective, combine

    spec = find_spec(str(model))
    if spec is None:
        return
    queries = [str(c) for c in classes]
    for _, term in combine(list(layer_specs)).terms() if layer_specs else ():
        if isinstance(term, ClassObjective):
            queries.append(term.query)
        elif isinstance(term, (ChannelObjective, NeuronObjective)):
            catalog.check_channels(spec.name, term.layer, getattr(term, "channels", None) or (term.channel,))
    check_classes(spec.name, queries, labels_file)


def check_classes(model_name: str, queries: Sequence[str], labels_file: str | None = None) -> None:
    """Each class name (or index) among the registered model's ImageNet classes, or among ``labels_file``'s.

    Raises:
        DreamerError: an unknown class name (with the closest ones), or an ImageNet index above 999.
    """
    from dreamer.models.inception5h import MODEL_NAME as GRAPH_WITH_OWN_LABELS
    from dreamer.models.labels import load_imagenet_labels, read_labels
    from dreamer.objectives.terms import resolve_class

    if not queries or (labels_file is None and model_name == GRAPH_WITH_OWN_LABELS):
        return  # inception5h's labels come inside its download
    labels = load_imagenet_labels() if labels_file is None else read_labels(Path(labels_file))
    for query in queries:
        if labels_file is None or not query.isdigit():  # a labels file does not say the output's size
            resolve_class(query, labels, len(labels), model_name)


def check_atlas(model: str | None, layer: str | None, channels: str | None, classes: Sequence[str],
                labels_file: str | None = None) -> None:
    """``dream atlas``'s layer, ``--channels`` and ``--class`` against a registered model's shipped names.

    Raises:
        DreamerError: an unknown layer (with the closest names), a channel list that does not parse or
            goes past the layer's channels, an unknown class, or an unknown model or missing model file.
    """
    from dreamer.models import DEFAULT_MODEL, catalog, find_spec
    from dreamer.objectives import parse_channel_list

    model = choose_model(model or DEFAULT_MODEL, [layer] if layer else [], lambda _msg: None)
    spec = find_spec(model)
    if channels is not None and channels.strip().lower() != "all":
        numbers = parse_channel_list(channels)
        if spec is not None and not classes:
            catalog.check_channels(spec.name, layer or spec.default_layer, numbers)
    if spec is not None:
        check_classes(spec.name, [str(c) for c in classes], labels_file)


def check_result_file(path: Path) -> dict:
    """The settings a result carries (``dream info``, ``dream again``), read from the file alone.

    Raises:
        DreamerError: it carries none (not a PNG written by dream, or not an image).
    """
    from dreamer.images import read_metadata

    try:
        metadata = read_metadata(path)
    except (OSError, ValueError, SyntaxError):
        metadata = None
    if not metadata:
        raise DreamerError(f"{path}: carries no dreamer settings (only PNG and JPEG results written by dream do)")
    return metadata


def ensure_inception5h(cache_dir: Path, weights: str | None, progress, argv: Sequence[str]) -> None:
    """Have GoogLeNet's graph in the cache (checking, installing or downloading it) before TensorFlow loads.

    Raises:
        ModelError: the file is not to be had; the message is a few short
            lines: what is missing, its URL, and the command (``argv`` with
            ``--weights`` added) that hands it over.
    """
    from dreamer.backend import require_tensorflow
    from dreamer.models import inception5h

    require_tensorflow(f"{inception5h.MODEL_NAME} (a TensorFlow GraphDef)")  # before any download
    try:
        inception5h.ensure_files(Path(cache_dir), Path(weights) if weights else None, progress)
    except inception5h.Unavailable as exc:
        command = shlex.join(["dream", "--weights", "inception5h.zip", *argv])
        raise ModelError(
            f"inception5h's network file is not here, and the download failed: {exc.detail}\n"
            f"  missing: {inception5h.GRAPH_FILE}, inside {inception5h.URL}\n"
            f"  on a machine with internet, download that zip, copy it here, then run:\n"
            f"  {command}"
        ) from None


def large_image_hint(path: Path, size: tuple[int, int]) -> str:
    """The note for an input above ``LARGE_IMAGE_PIXELS`` dreamed at full resolution."""
    width, height = size
    return (f"{path} is {width}x{height} ({width * height / 1e6:.0f} MP): at full resolution the patterns come "
            f"out small next to the picture, and it takes minutes; --max-size {SUGGESTED_MAX_SIZE} dreams on "
            "a smaller copy (this note is shown once)")


def _is_image_name(path: Path) -> bool:
    from PIL import Image

    Image.init()
    return path.suffix.lower() in Image.EXTENSION


