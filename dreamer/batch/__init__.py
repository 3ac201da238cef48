"""Batch rendering that resumes: many inputs into one output folder, any number of runs.

The data flow, one module a stage:

    inputs.py    files, folders (--recursive) and globs -> the images to render
    naming.py    each input -> its result's name, mirroring sub-folders
    settings.py  the settings as one plain dict (a recipe): what jobs carry,
                 what the manifest compares, what a result carries
    claims.py    a lock per result, so two processes never render the same one
    manifest.py  dreamer-manifest.jsonl: one record per finished input
    worker.py    build_worker(settings): the executor's worker (model loaded once)
    runner.py    the driver: what is left, claims, jobs, results, records
    progress.py  the progress line and the summary, as text

The executor (``dreamer.executors``) only turns jobs into outcomes; the
driver here writes every file and every manifest line.
"""

from dreamer.batch.inputs import Discovery, Input, find_inputs
from dreamer.batch.manifest import MANIFEST_NAME, Manifest
from dreamer.batch.naming import result_names
from dreamer.batch.runner import Batch, BatchEvent, Item, Summary, plan_items, recorded_labels
from dreamer.batch.settings import make_recipe

__all__ = ["Batch", "BatchEvent", "Discovery", "Input", "Item", "MANIFEST_NAME", "Manifest", "Summary",
           "find_inputs", "make_recipe", "plan_items", "recorded_labels", "result_names"]
