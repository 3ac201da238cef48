"""``build_report``: a static site of a network seen through a folder of images (``dream report``).

The contract: an adapter, a folder of images, a site folder and a
``ReportRequest`` in; the site written (see ``dreamer.report.pages``), a
``ReportDone`` out. The images run once through the network for every
layer shown and the class output together (``dreamer.dataset.collect``,
cached per image); each layer's most selective channels are ranked from the
cache (``dreamer.dataset.rank``) and shown with their Fourier render, top
patches and a histogram; each image gets a page with its top classes. Files
already in the site are kept (``dreamer.report.files``), so a rerun with
more images or layers does only what is new.

When ``dream explain`` is installed with dreamer (``dreamer.attribution``,
issue 22), each image page also shows its attribution maps
(``attribution_tiles``, the methods in ``ReportRequest.attribution``, each
map made once and kept as a file); otherwise that section is left out.
"""

from __future__ import annotations

import importlib.util
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from dreamer.classify import to_probabilities
from dreamer.dataset.collect import Picture, collect, find_pictures
from dreamer.dataset.examples import check_layers, original_box
from dreamer.dataset.rank import ChannelChoice, choose_channels, pooled_values, summarise
from dreamer.dataset.sheets import patch_tile, thumbnail
from dreamer.errors import DreamerError
from dreamer.fileio import atomic_path
from dreamer.outputs import safe_name
from dreamer.report import files, pages
from dreamer.report.pages import Tile

#: Progress: called with (stage, done, total); stages "activations", "renders", "pages".
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ReportRequest:
    """What the site shows.

    Attributes:
        layers: the layers (empty: ``default_layers`` spread over the network).
        per_layer: channels shown per layer (the most selective).
        k: top patches per channel.
        size: the square side the images are run at.
        batch: images per forward pass.
        render_steps: Adam steps of each channel's Fourier render.
        render_size: a render's side in pixels.
        probe: a transform (hflip, gray...) to probe the layers with, or "" for none.
        attribution: ``dream explain`` methods shown on each image's page (when it is installed); () for none.
        default_layers: how many layers a new site shows when none are named.
    """

    layers: tuple[str, ...] = ()
    per_layer: int = 8
    k: int = 6
    size: int = 224
    batch: int = 16
    render_steps: int = 64
    render_size: int = 128
    probe: str = ""
    default_layers: int = 4
    attribution: tuple[str, ...] = ("gradcam",)


@dataclass(frozen=True)
class ReportDone:
    """What a run did: images, how many ran through the network now, renders made, layers, seconds."""

    site: Path
    images: int
    computed: int
    rendered: int
    layers: tuple[str, ...]
    seconds: float


def build_report(adapter, images: Path, site: Path, request: ReportRequest,
                 store, progress: Progress | None = None) -> ReportDone:
    """Write (or bring up to date) the report site for ``adapter`` over the images in ``images``.

    Args:
        store: the ``ActivationStore`` of this network at ``request.size``.

    Raises:
        DreamerError: no images, an unknown or non-spatial layer.
    """
    started = time.perf_counter()
    report = progress or (lambda *_: None)
    pictures = find_pictures(Path(images))
    layers = site_layers(Path(site), adapter, request)
    check_layers(adapter, layers, request.size)
    head = class_layer(adapter, request.size)
    computed = collect(adapter, pictures, layers + ((head,) if head else ()), store, request,
                       lambda done, total: report("activations", done, total))
    site = Path(site)
    wanted = {p.hash: i for i, p in enumerate(pictures)}
    rendered, layer_rows, excited = 0, [], {p.hash: [] for p in pictures}
    for number, layer in enumerate(layers):
        row, made = write_layer(adapter, (layer, site, request), store, pictures, excited)
        layer_rows.append(row)
        rendered += made
        report("renders", number + 1, len(layers))
    classes = top_classes(adapter, store, head, wanted) if head else {}
    write_image_pages(adapter, (site, request.attribution), pictures, classes, excited)
    note = add_probe(adapter, pictures, layer_rows, request.probe) if request.probe else ""
    write_site_root(site, adapter.name, layer_rows, note, len(pictures))
    write_state(site, adapter.name, replace(request, layers=layers), len(pictures))
    report("pages", 1, 1)
    return ReportDone(site, len(pictures), computed, rendered, layers, time.perf_counter() - started)


def site_layers(site: Path, adapter, request: ReportRequest) -> tuple[str, ...]:
    """The layers the site shows: those it showed before (``report.json``), then the ones asked for now; on a new
    site with none asked for, ``default_layers``.

    Raises:
        DreamerError: the site was built for another model, or the folder holds other files.
    """
    state = site / "report.json"
    before: tuple[str, ...] = ()
    if site.is_dir() and any(site.iterdir()) and not state.is_file():
        raise DreamerError(f"{site} holds other files and is not a dream report site (no report.json): choose a "
                           f"new or empty folder (-o), so nothing of yours is overwritten")
    if state.is_file():
        recorded = json.loads(state.read_text(encoding="utf-8"))
        if recorded.get("model") != adapter.name:
            raise DreamerError(f"{site} is the report of model {recorded.get('model')!r}, not {adapter.name!r}: "
                               f"choose another folder (-o)")
        before = tuple(recorded.get("layers", ()))
    order = {name: i for i, name in enumerate(adapter.layer_names())}
    layers = tuple(sorted(dict.fromkeys(before + tuple(request.layers)), key=lambda name: order.get(name, -1)))
    return layers or default_layers(adapter, request.default_layers)


def default_layers(adapter, count: int) -> tuple[str, ...]:
    """About ``count`` image-like layers spread over the network, block outputs preferred."""
    from dreamer.probe.features import choose_layers

    return tuple(layer.name for layer in choose_layers(adapter, None, count) if layer.kind == "conv")


def class_layer(adapter, size: int) -> str | None:
    """The class output's layer, when the model has one with labels that runs at ``size`` px; else None."""
    from dreamer.errors import ModelError
    from dreamer.models.capabilities import class_output_takes

    try:
        name = adapter.class_layer().name
    except (ModelError, AttributeError):
        return None
    if not adapter.labels or not class_output_takes(adapter, name, size):
        return None
    return name


def write_layer(adapter, where: tuple, store, pictures: Sequence[Picture], excited: dict) -> tuple[dict, int]:
    """A layer's page and files; returns (its index row, renders made). ``where`` is (layer, site, request).

    Adds to ``excited`` (image hash -> Tiles) the shown channels each image is a top image of.
    """
    layer, site, request = where
    wanted = {p.hash: i for i, p in enumerate(pictures)}
    summary = summarise(store, layer, wanted, request.k)
    channels = choose_channels(summary, ChannelChoice("selective", count=request.per_layer))
    made = files.render_missing(adapter, layer, channels, site, (request.render_steps, request.render_size))
    values = pooled_values(store, layer, wanted, channels)
    shape = "x".join(str(d) for d in adapter.layer_shapes(request.size, request.size)[layer])
    page_name = f"layers/{safe_name(layer)}.html"
    cards = []
    for column, channel in enumerate(channels):
        render = Tile(files.render_name(layer, channel, request.render_steps, request.render_size),
                      f"{layer} channel {channel}")
        for i in summary.top.ids[channel]:
            if i >= 0:
                excited[pictures[i].hash].append(Tile(render.src, render.caption, page_name))
        hist = files.hist_name(layer, channel)
        files.save(files.histogram(values[:, column], summary.top.scores()[channel]), site, hist)
        cards.append({"channel": channel, "render": render, "hist": Tile(hist, "mean activation per image"),
                      "patches": patch_tiles(adapter, site, (layer, channel, request.size), summary, pictures)})
    write_text(site / page_name, pages.layer_page(layer, shape, cards))
    return {"name": layer, "page": page_name, "shape": shape, "channels": ", ".join(map(str, channels))}, made


def patch_tiles(adapter, site: Path, what: tuple, summary, pictures: Sequence[Picture]) -> list[Tile]:
    """The channel's top patches as files (made if missing) and Tiles. ``what`` is (layer, channel, size)."""
    from dreamer.dataset.receptive import receptive_field

    layer, channel, size = what
    tiles, field = [], None
    for i, score, (row, col) in zip(summary.patches.ids[channel], summary.patches.scores()[channel],
                                    summary.patches.extra[channel]):
        if i < 0:
            continue
        picture = pictures[i]
        name = files.patch_name(layer, picture.hash, (int(row), int(col)))
        if files.missing(site, name):
            field = field or receptive_field(adapter.model, layer, (size, size))
            box = original_box(picture.path, field.box(int(row), int(col)), size)
            files.save(patch_tile(picture.path, box, 64), site, name)
        tiles.append(Tile(name, f"{picture.path.name}: {score:.3g}", image_page_name(picture)))
    return tiles


def image_page_name(picture: Picture) -> str:
    return f"images/{picture.hash[:16]}.html"


def top_classes(adapter, store, head: str, wanted: dict[str, int], top: int = 5) -> dict[str, list]:
    """Image hash -> its ``top`` (label, probability) pairs, from the cached class scores."""
    found = {}
    hashes = list(wanted)
    for ids, stats in store.read(head, wanted):
        for i, scores in zip(ids, stats.mean):
            probabilities = to_probabilities(scores.astype(np.float64))
            order = np.argsort(probabilities)[::-1][:top]
            found[hashes[i]] = [(adapter.labels[c], float(probabilities[c])) for c in order]
    return found


def write_image_pages(adapter, where: tuple, pictures: Sequence[Picture], classes: dict, excited: dict) -> None:
    """A page per image (its thumbnail made if missing) and the page of all images.

    ``where`` is (the site, the attribution methods: with ``dream explain`` installed, their maps are shown).
    """
    site, methods = where
    explain = attribution_tiles if methods and explain_available() else None
    cards = []
    for picture in pictures:
        thumb = files.thumb_name(picture.hash)
        if files.missing(site, thumb):
            files.save(thumbnail(picture.path, 224), site, thumb)
        top = classes.get(picture.hash, [])
        caption = f"{picture.path.name}" + (f": {top[0][0]}" if top else "")
        tile = Tile(thumb, caption, image_page_name(picture))
        attributions = explain(adapter, picture, site, methods) if explain else ()
        write_text(site / image_page_name(picture),
                   pages.image_page(picture.path.name, Tile(thumb, picture.path.name), top,
                                    excited.get(picture.hash, []), attributions))
        cards.append({"tile": tile, "key": " ".join([picture.path.name] + [label for label, _ in top])})
    write_text(site / "images.html", pages.images_page(cards))


def explain_available() -> bool:
    """Whether ``dream explain`` (``dreamer.attribution``) is installed with this dreamer."""
    return importlib.util.find_spec("dreamer.attribution") is not None


def attribution_tiles(adapter, picture: Picture, site: Path, methods: Sequence[str]) -> list[Tile]:
    """The image's attribution maps (``dream explain``'s overlays) as Tiles; the missing ones are made now,
    for the predicted class, in one ``explain_image`` call."""
    names = {method: files.attribution_name(picture.hash, method) for method in methods}
    todo = tuple(method for method, name in names.items() if files.missing(site, name))
    if todo:
        from dreamer.attribution import explain_image, write_overlay
        from dreamer.images import load_image

        result = explain_image(adapter, load_image(picture.path).rgb, todo)
        for method in todo:
            (site / names[method]).parent.mkdir(parents=True, exist_ok=True)
            write_overlay(site / names[method], result.image, result.maps[method], result.caption(), method)
    return [Tile(names[method], method) for method in methods]


def add_probe(adapter, pictures: Sequence[Picture], rows: list[dict], transform: str) -> str:
    """Probe the layers with ``transform``: each row gets the probe's columns; returns its answer line."""
    from dreamer.probe import probe

    result = probe([str(p.path) for p in pictures], model=adapter, layers=[row["name"] for row in rows],
                   transform=transform)
    by_name = {layer.name: layer for layer in result.layers}
    for row in rows:
        scores = by_name[row["name"]]
        row["probe"] = {f"{transform}: invariance": _number(scores.invariance, "{:.3f}"),
                        f"{transform}: equivariance": _number(scores.equivariance, "{:.3f}"),
                        f"{transform}: decodable": _number(scores.decodability, "{:.0%}")}
    return f"probe ({transform}): {result.verdict.text}"


def _number(value, form: str) -> str:
    return "-" if value is None else form.format(value)


def write_site_root(site: Path, model: str, rows: list[dict], note: str, count: int) -> None:
    write_text(site / "index.html", pages.index_page(model, rows, note, count))
    write_text(site / "style.css", pages.STYLE)
    write_text(site / "filter.js", pages.FILTER_JS)


def write_state(site: Path, model: str, request: ReportRequest, count: int) -> None:
    """``report.json``: what the site was built from."""
    write_text(site / "report.json", json.dumps({"model": model, "images": count, **asdict(request)}, indent=1))


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
