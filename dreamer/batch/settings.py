"""The settings of a render as one plain, JSON-able dict (a *recipe*).

A recipe is what a job carries to a worker, what the manifest compares to
decide whether a result is already there, and what a result PNG carries so
``dream again`` can render it again. Keys: the model and objective
(``MODEL_KEYS``), ``max_size``, and every field of ``DreamConfig`` (the
seed included). Paths in it (a model file, weights, guide, mask) are
absolute, so a recipe means the same from any folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from dreamer.config import MODEL_SETTINGS, DreamConfig, settings

#: The settings that choose the model and the objective (a worker loads them once).
MODEL_KEYS = tuple(MODEL_SETTINGS)
#: Settings with a file path for a value.
PATH_KEYS = ("guide", "mask", "weights")
MODEL_DEFAULTS = {"layers": (), "classes": (), "loss": None, "guide": None, "mask": None, "weights": None,
                   "preprocess": None, "unsafe_load": False, "precision": "auto", "input_name": None}


def config_keys() -> tuple[str, ...]:
    """The engine's settings, by name (the fields of ``DreamConfig``)."""
    return tuple(settings())


def make_recipe(model: str, config: Mapping[str, Any], max_size: int | None = None, **chosen: Any) -> dict:
    """A recipe from the model, the engine's settings and the other model settings.

    Args:
        model: a registered model's name, or a model file or folder.
        config: the engine's settings (a DreamConfig as a dict; the seed may be None: chosen per input).
        max_size: the long side inputs are shrunk to, or None.
        chosen: other ``MODEL_KEYS`` (layers, classes, loss, ...).
    """
    unknown = set(chosen) - set(MODEL_KEYS)
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
    recipe = {**MODEL_DEFAULTS, **{k: v for k, v in chosen.items() if v is not None}}
    recipe["model"] = _absolute_if_file(str(model))
    for key in PATH_KEYS:
        if recipe[key] is not None:
            recipe[key] = str(Path(recipe[key]).resolve())
    recipe["layers"] = list(recipe["layers"])
    recipe["classes"] = [str(c) for c in recipe["classes"]]
    recipe["max_size"] = max_size
    recipe.update({key: config[key] for key in config_keys() if key in config})
    return recipe


def model_settings(recipe: Mapping[str, Any]) -> dict:
    """The part of a recipe that chooses the model and objective, defaults filled in."""
    chosen = {**MODEL_DEFAULTS, **{k: recipe[k] for k in MODEL_KEYS if k in recipe}}
    chosen["layers"] = tuple(chosen["layers"] or ())
    chosen["classes"] = tuple(chosen["classes"] or ())
    return chosen


def dreamer_from_recipe(settings: Mapping[str, Any], cache_dir=None, download_progress=None, adapter=None):
    """The ``Dreamer`` (model, objective, compiled gradient) that a recipe's model part describes: the one way
    a ``Dreamer`` is built from a recipe (the CLI's ``make_dreamer``, the local batch worker and each Ray
    actor's ``dreamer.batch.worker.load_dreamer`` call it).

    ``adapter``: an already loaded model to use instead of the recipe's (its file settings then unused).
    """
    from dreamer.api import Dreamer

    chosen = model_settings(settings)
    dreamer = Dreamer(
        adapter if adapter is not None else chosen["model"], list(chosen["layers"]) or None, loss=chosen["loss"],
        cache_dir=cache_dir,
        weights=chosen["weights"], preprocess=chosen["preprocess"], classes=tuple(chosen["classes"]),
        guide=chosen["guide"], unsafe_load=chosen["unsafe_load"], precision=chosen["precision"],
        input_name=chosen["input_name"], download_progress=download_progress,
    )
    dreamer.gradient  # noqa: B018 - compiled once, before the first job
    return dreamer


def dream_config(recipe: Mapping[str, Any]):
    """The recipe's ``DreamConfig`` (its seed must be set).

    Raises:
        DreamerError: a value the engine refuses.
    """
    values = {key: recipe[key] for key in config_keys() if key in recipe}
    if values.get("seed") is None:
        raise ValueError("a recipe needs a seed to be rendered")
    return DreamConfig(**values)


def same_recipe(a: Mapping[str, Any], b: Mapping[str, Any], compare_seed: bool) -> bool:
    """Whether two recipes render the same result (the seed only counts when it was chosen)."""
    ignored = set() if compare_seed else {"seed"}
    keys = (set(a) | set(b)) - ignored
    return all(_normal(a.get(key)) == _normal(b.get(key)) for key in keys)


def same_result(path: Path, input_sha256: str, recipe: Mapping[str, Any]) -> dict | None:
    """The settings ``path`` carries if it is the result of that input (by hash) and ``recipe``, else None.

    The seed counts only when ``recipe`` has one (without ``--seed`` any seed will do).
    """
    from dreamer.images import read_metadata

    try:
        metadata = read_metadata(path) or {}
    except (OSError, ValueError, SyntaxError):
        return None
    if metadata.get("input_sha256") != input_sha256 or not same_recipe(
            metadata.get("recipe") or {}, recipe, recipe.get("seed") is not None):
        return None
    return metadata


def _normal(value):
    return list(value) if isinstance(value, tuple) else value


def _absolute_if_file(model: str) -> str:
    """A model given as a path becomes absolute; a registered name stays as it is."""
    path = Path(model)
    if path.exists() and (path.suffix in (".keras", ".h5", ".pb") or path.is_dir() or os.sep in model):
        return str(path.resolve())
    return model


def recipe_from_metadata(metadata: Mapping[str, Any]) -> dict:
    """The recipe a result carries; for a result made before recipes were recorded, one rebuilt
    from its flat settings (model, objective, engine settings; ``max_size`` unknown, so None)."""
    if isinstance(metadata.get("recipe"), Mapping):
        return dict(metadata["recipe"])
    config = {key: metadata[key] for key in config_keys() if key in metadata}
    objective = metadata.get("objective")
    return make_recipe(str(metadata.get("model")), config, None, layers=[objective] if objective else [],
                       precision=metadata.get("precision", "auto"))


def with_overrides(recipe: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict:
    """``recipe`` with some settings replaced (paths made absolute, as ``make_recipe`` does).

    Raises:
        DreamerError: a value the engine refuses.
    """
    changed = {**recipe, **overrides}
    for key in PATH_KEYS:
        if key in overrides and overrides[key] is not None:
            changed[key] = str(Path(overrides[key]).resolve())
    if "layers" in overrides:
        changed["layers"] = list(overrides["layers"])
    dream_config(changed)  # checks every engine setting now, before any work
    return changed
