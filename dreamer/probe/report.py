"""A probe's result as text and files: the table, the JSON, the output names.

``output_paths`` decides, before any work, where the plot and the JSON go
(never over an existing file unless asked); ``table_text`` is what the
command prints (one row per layer, then the answer); ``write_json`` saves
every number and setting, atomically.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dreamer.errors import ImageError
from dreamer.fileio import atomic_path
from dreamer.outputs import DEFAULT_OUTPUT_DIR, ensure_folder, free_name, safe_name

COLUMNS = (
    ("layer", None), ("depth", None), ("shape", None),
    ("inv", "invariance"), ("inv map", "invariance_map"),
    ("equiv", "equivariance"), ("equiv id", "equivariance_identity"), ("partners", "partners"),
    ("decode", "decodability"), ("decode 2x2", "decodability_grid"),
)


def table_text(result) -> str:
    """The result as an aligned table, with a legend, the chance band and the answer."""
    keys = [key for _, key in COLUMNS[3:] if any(getattr(layer, key) is not None for layer in result.layers)]
    headers = ["layer", "depth", "shape"] + [title for title, key in COLUMNS[3:] if key in keys]
    rows = [headers]
    for layer in result.layers:
        shape = "x".join("?" if d is None else str(d) for d in layer.shape)
        rows.append([layer.name, f"{layer.depth:.2f}", shape] + [_cell(layer, key) for key in keys])
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    first, second = result.labels
    lines += [
        "",
        f"model {result.model}; {first} versus {second}; {len(result.inputs)} images at {result.settings.size} px"
        f"{_extras(result)}; {result.seconds:.0f} s",
        "inv: invariance of pooled activations (1: unchanged, 0: as different as another image); inv map: of the "
        "whole maps; equiv: map-level equivariance with channels re-paired (id: not re-paired); partners: "
        "channels matched to another channel; decode: cross-validated accuracy of a linear classifier on pooled "
        f"features (2x2: on a 2x2 grid), [95% interval over {result.images or len(result.inputs)} images]; "
        f"chance is 50% +- {result.chance:.0%}",
        "answer: " + result.verdict.text,
    ]
    return "\n".join(lines)


def _extras(result) -> str:
    """The augmentation and grouping, when used, for the table's summary line."""
    parts = []
    if result.settings.augment:
        count = result.settings.augment
        parts.append(f"{count} variant{'' if count == 1 else 's'} of each")
    if result.images and result.images < len(result.inputs):
        parts.append(f"{result.images} groups")
    return "".join(f", {part}" for part in parts)


def _cell(layer, key: str) -> str:
    value = getattr(layer, key)
    if value is None:
        return "-"
    if key == "partners":
        return f"{value}/{layer.shape[-1]}"
    if key.startswith("decodability"):
        low, high = getattr(layer, f"{key}_low", None), getattr(layer, f"{key}_high", None)
        return f"{value:.0%}" if low is None else f"{value:.0%} [{low:.0%}-{high:.0%}]"
    return f"{value:.3f}"


def write_json(result, path: Path) -> Path:
    """Every number and setting of ``result`` as JSON, written atomically."""
    text = json.dumps(result.to_dict(), indent=2, default=_plain)
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise ImageError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path


def output_paths(model: str, transform: str, mode: str, plot: str | None, json_path: str | None,
                 overwrite: bool) -> tuple[Path, Path]:
    """The plot's and the JSON's paths, their folders created; free names unless ``overwrite``.

    Raises:
        DreamerError: a plot extension other than .png/.svg/.pdf, or a folder that cannot be made.
    """
    from dreamer.probe.plot import check_plot_path

    label = transform if mode == "transform" else mode
    plot_path = Path(plot) if plot else DEFAULT_OUTPUT_DIR / f"probe_{safe_name(model)}_{safe_name(label)}.png"
    check_plot_path(plot_path)
    json_file = Path(json_path) if json_path else plot_path.with_suffix(".json")
    for folder in {plot_path.parent, json_file.parent}:
        ensure_folder(folder)
    if overwrite:
        return plot_path, json_file
    return free_name(plot_path), free_name(json_file)


def _plain(value):
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")
