"""Who renders a batch: ``--executor local|ray``, ``--ray-address``, ``--workers``.

The batch (``dreamer.cli.batch``) is the same either way; this module only
turns the options into an executor, and adds each worker's share to the
summary. Ray is imported only when ``--executor ray`` is chosen.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import click

from dreamer.cli.options import setting_option
from dreamer.errors import DreamerError
from dreamer.settings import WORKERS_SETTING


def executor_options(func):
    """--executor, --ray-address, --workers: shared by the commands that render batches."""
    options = [
        click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="Who renders a batch: this process, or a pool of Ray workers, each holding the "
                          "model (pip install \"dreamer[ray]\"); this process writes every file either way."),
        click.option("--ray-address", default=None, metavar="ADDRESS",
                     help="With --executor ray: join this running Ray cluster (auto, HOST:6379 or "
                          "ray://HOST:10001). [default: start a Ray instance on this machine for the batch]"),
        setting_option("workers", WORKERS_SETTING, None),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@dataclass(frozen=True)
class ExecutorChoice:
    """--executor, --ray-address, --workers."""

    executor: str = "local"
    ray_address: str | None = None
    workers: int | None = None


def check_executor_options(choice: ExecutorChoice, batch: bool) -> None:
    """Refuses Ray's options where they would do nothing (without ``--executor ray``, or for one
    output file), and ``--executor ray`` without Ray installed."""
    executor, ray_address, workers = choice.executor, choice.ray_address, choice.workers
    if executor == "ray":
        from dreamer.executors.ray import import_ray

        if not batch:
            raise DreamerError("--executor ray renders batches: give -o a folder (a path ending in /)")
        import_ray()  # before the model loads: Ray missing is said at once
        return
    given = [name for name, value in (("--ray-address", ray_address), ("--workers", workers)) if value is not None]
    if given:
        raise DreamerError(f"{' and '.join(given)} need{'s' if len(given) == 1 else ''} --executor ray")


def executor_for(choice: ExecutorChoice, cache_dir: str | None = None):
    """``run_batch``'s ``executor_for``: None for this process, else a function of the recipe.

    ``cache_dir`` (``--cache-dir``) is where the workers look for the model's files too.
    """
    if choice.executor == "local":
        return None
    cache_dir = str(Path(cache_dir).resolve()) if cache_dir else None  # a worker may start in another folder
    return functools.partial(ray_executor, ray_address=choice.ray_address, workers=choice.workers,
                             cache_dir=cache_dir)


def ray_executor(recipe: dict, ray_address: str | None, workers: int | None, cache_dir: str | None = None):
    """A ``RayExecutor`` whose workers build the batch worker from the recipe (plain settings).

    Raises:
        DreamerError: Ray is not installed, or the cluster cannot be reached or hold the workers.
    """
    from dreamer.batch.worker import build_worker
    from dreamer.executors.ray import RayExecutor

    return RayExecutor(functools.partial(build_worker, dict(recipe), cache_dir), ray_address, workers)
