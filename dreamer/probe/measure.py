"""``probe()``: at which layer does a network stop telling x from T(x)?

The contract: inputs (images with a transform, two folders of pairs, or two
folders of classes), a model and settings in; a ``ProbeResult`` out, with
every score of every probed layer and the one-line answer. Nothing is
printed or written here; progress goes to a callback. The steps follow the
data: check the inputs, load the model, choose the layers, one pass over the
images (``collect``), then the scores per layer (``scores``, ``decode``)
and the verdict (``verdict``).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, replace
from typing import Sequence

from dreamer.probe.collect import LayerRecord, Plan, Progress, collect_classes, collect_pairs
from dreamer.probe.decode import chance_band, cross_validated_accuracy, wilson_interval
from dreamer.probe.features import check_dense_layers, choose_layers, feature_function
from dreamer.probe.inputs import group_ids, item_name, label_of, plan_inputs
from dreamer.probe.scores import equivariance
from dreamer.probe.settings import ProbeSettings
from dreamer.probe.transforms import parse_transform
from dreamer.probe.verdict import Verdict, verdict
from dreamer.version import __version__


@dataclass(frozen=True)
class LayerScores:
    """Every score of one layer (None where it does not apply).

    ``invariance`` and ``decodability`` are on the pooled activations (a 2-D
    layer's own output); ``invariance_map``, ``equivariance`` (channels
    re-paired), ``equivariance_identity`` (not re-paired), ``partners`` and
    ``decodability_grid`` (2x2 grid) exist for 4-D layers. Each decodability
    has its ~95% Wilson interval over the images (``_low``, ``_high``).
    """

    name: str
    index: int
    depth: float
    shape: tuple
    kind: str
    invariance: float | None = None
    invariance_map: float | None = None
    equivariance: float | None = None
    equivariance_identity: float | None = None
    partners: int | None = None
    decodability: float | None = None
    decodability_low: float | None = None
    decodability_high: float | None = None
    decodability_grid: float | None = None
    decodability_grid_low: float | None = None
    decodability_grid_high: float | None = None


@dataclass(frozen=True)
class ProbeResult:
    """A probe's numbers: what was probed, each layer's scores, the chance band and the answer."""

    model: str
    mode: str  # "transform", "pairs" or "classes"
    labels: tuple[str, str]  # the two things told apart ("x", "hflip(x)"), or the folders
    inputs: tuple[str, ...]
    settings: ProbeSettings
    layers: tuple[LayerScores, ...]
    chance: float  # half-width of the ~95% band around 50% that guessing reaches
    verdict: Verdict
    seconds: float
    images: int = 0  # independent images (groups) the intervals count
    export: dict | None = None  # what --export wrote: path, layer, head, cross-validated accuracy

    def to_dict(self) -> dict:
        """Every number and setting, JSON-ready."""
        data = asdict(self)
        data["layers"] = [{**asdict(layer), "shape": list(layer.shape)} for layer in self.layers]
        return {"dreamer_version": __version__, **data}


def probe(
    images: Sequence = (),
    *,
    model="efficientnet-lite0",
    transform: str | None = None,
    layers: Sequence[str] | None = None,
    pairs: tuple | None = None,
    classes: tuple | None = None,
    settings: ProbeSettings | None = None,
    cache_dir: str | os.PathLike | None = None,
    weights: str | os.PathLike | None = None,
    preprocess: str | None = None,
    unsafe_load: bool = False,
    groups=None,
    export: str | os.PathLike | None = None,
    progress: Progress | None = None,
) -> ProbeResult:
    """Measure, layer by layer, how a network's response changes under a transform.

    Args:
        images: image files, folders or HxWx3 arrays; each is compared with its transform.
        model: a registered model's name, a saved Keras model's path, a ``keras.Model`` or an adapter.
        transform: shorthand for ``settings.transform`` (hflip, vflip, rot90, shift:N, scale:F, gray).
        layers: layer names to probe; default: ``settings.max_layers`` spread over the network, and
            its class output.
        pairs: (first, second): two folders or lists whose images correspond (second[i] is the
            partner of first[i]); replaces ``images`` and T(x).
        classes: (a, b): two folders or lists; only decodability of a versus b is measured.
        settings: the remaining settings (default: ``ProbeSettings()``).
        cache_dir, weights, preprocess, unsafe_load: as for ``dreamer.dream``.
        groups: images that must share a cross-validation fold (crops of one photo, shots of one
            coin): a label per image (of both classes, in order), ``"name:REGEX"`` on the file names,
            or a file of ``file-name group`` lines (``dreamer.probe.inputs.group_ids``).
        export: a ``.keras`` path: the network cut at the answer's layer plus the head that decodes
            there, trained on all the images, is saved there (``dreamer.probe.export``); the
            result's ``export`` says what was written (or why nothing was).
        progress: ``progress(stage, done, total)``.

    Raises:
        DreamerError: too few images, an unreadable image, an unknown model, layer or transform.
    """
    started = time.perf_counter()
    settings = settings or ProbeSettings()
    settings = replace(settings, transform=transform) if transform else settings
    chosen_transform = parse_transform(settings.transform)
    mode, first, second = plan_inputs(images, pairs, classes)
    group_of = group_ids(list(first) + (list(second) if mode == "classes" else []), groups)
    adapter = _load(model, cache_dir, weights, preprocess, unsafe_load)
    probed = choose_layers(adapter, layers, settings.max_layers)
    check_dense_layers(adapter, probed, settings.size)
    plan = Plan(settings.size, settings.batch_size, group_of, settings.augment, settings.seed)
    records = _collect(adapter, probed, (mode, first, second), chosen_transform, plan, progress)
    count = len(set(group_of.tolist()))
    scores = tuple(_scored(records, settings, chosen_transform.spatial or mode == "pairs", count, progress))
    labels = _labels(mode, chosen_transform.name, pairs or classes)
    names = tuple(item_name(item) for item in list(first) + (list(second) if mode != "transform" else []))
    chance = float(chance_band(2 * count if mode != "classes" else count))
    answer = verdict(scores, settings.threshold, mode, labels, count)
    exported = None
    if export is not None:
        from dreamer.probe.export import export_head

        exported = export_head(adapter, records, answer, settings, export)
    return ProbeResult(adapter.name, mode, labels, names, settings, scores, chance, answer,
                       time.perf_counter() - started, count, exported)


def _collect(adapter, probed, inputs: tuple, transform, plan: Plan, progress: Progress | None):
    """One pass over the images: the records of every probed layer."""
    mode, first, second = inputs
    features = feature_function(adapter, probed)
    if mode == "classes":
        return collect_classes(features, probed, (first, second), plan, progress)
    return collect_pairs(features, probed, first, second if mode == "pairs" else None, transform, plan, progress)


def _load(model, cache_dir, weights, preprocess, unsafe_load):
    from pathlib import Path

    from dreamer.fileio import default_cache_dir
    from dreamer.models import load_model

    return load_model(model, Path(cache_dir) if cache_dir else default_cache_dir(),
                      Path(weights) if weights else None, preprocess, unsafe=unsafe_load)


def _scored(records: list[LayerRecord], settings: ProbeSettings, spatial: bool, images: int,
            progress: Progress | None):
    """Each record's scores, in order (the classifier stage reports progress per layer)."""
    for done, record in enumerate(records, start=1):
        yield layer_scores(record, settings, spatial, images)
        if progress is not None:
            progress("classifier", done, len(records))


def layer_scores(record: LayerRecord, settings: ProbeSettings, spatial: bool = True, images: int = 0) -> LayerScores:
    """A layer's scores from its record: invariance and equivariance from the sums, decodability by CV.

    ``images``: the independent images (groups) the decodability intervals count (0: the record's groups).
    """
    layer = record.layer
    labels, groups = _concat(record.labels), _concat(record.groups)
    decodable = {head: None if record.features(head) is None else
                 cross_validated_accuracy(record.features(head), labels, groups, settings.folds, settings.seed)
                 for head in ("pooled", "grid")}
    images = images or len(set(groups.tolist()))
    base = dict(name=layer.name, index=layer.index, depth=layer.depth, shape=record.shape or layer.shape,
                kind=layer.kind)
    for head, key in (("pooled", "decodability"), ("grid", "decodability_grid")):
        if decodable[head] is not None:
            low, high = wilson_interval(decodable[head], images)
            base.update({key: decodable[head], f"{key}_low": low, f"{key}_high": high})
    if record.pooled_change.count == 0:
        return LayerScores(**base)
    map_spread = record.map_spread.value()
    equi = equivariance(record.halves, map_spread) if record.halves and spatial else None
    return LayerScores(
        **base,
        invariance=record.pooled_change.score(record.pooled_spread.value()),
        invariance_map=record.map_change.score(map_spread) if layer.kind == "conv" else None,
        equivariance=None if equi is None else equi.repaired,
        equivariance_identity=None if equi is None else equi.identity,
        partners=None if equi is None else equi.partners,
    )


def _concat(parts: list):
    import numpy as np

    return np.concatenate(parts)


def _labels(mode: str, transform: str, folders) -> tuple[str, str]:
    if mode == "transform":
        return ("x", f"{transform}(x)")
    return (label_of(folders, 0), label_of(folders, 1))
